/** Why a link ended: sent to the peer in a CLOSE record (when encrypted) and reported locally. */
export const CloseCode = {
  Normal: 0,
  HandshakeFailed: 1,
  BadAnnouncement: 2,
  UnexpectedNode: 3,
  FrameTooLarge: 4,
  DecryptFailed: 5,
  ProtocolViolation: 6,
  MessageTooLarge: 7,
  HandshakeTimeout: 8,
  IdleTimeout: 9,
  Duplicate: 10,
  TooManyConnections: 11,
  ShuttingDown: 12,
  Unknown: 0xffff,
} as const;
export type CloseCodeName = keyof typeof CloseCode;

const NAMES = new Map<number, CloseCodeName>(
  (Object.entries(CloseCode) as [CloseCodeName, number][]).map(([name, code]) => [code, name]),
);

/** A code from the peer; one this version does not know is 'Unknown', never an error. */
export function closeCodeName(code: number): CloseCodeName {
  return NAMES.get(code) ?? 'Unknown';
}
