import { type Result, err, fromBase64url, ok, toBase64url } from '@postern/core';
import { RECORD_ID_BYTES } from './messages.ts';

/**
 * Where a record lives on a relay: `<receiver>/<sender>/<recordId>`, each segment unpadded
 * base64url (43, 43 and 22 characters). Per receiver first, so a receiver's listing is one prefix;
 * then per sender, so one sender's records to it are another. Spec: docs/protocols/relay.md.
 */
export interface RecordPath {
  readonly receiver: Uint8Array;
  readonly sender: Uint8Array;
  readonly recordId: Uint8Array;
}

export function formatPath(path: RecordPath): string {
  return `${toBase64url(path.receiver)}/${toBase64url(path.sender)}/${toBase64url(path.recordId)}`;
}

/** A path as a client sends it: three segments of the right lengths, nothing else. */
export function parsePath(text: string): Result<RecordPath, string> {
  const segments = text.split('/');
  if (segments.length !== 3) return err('a path has three segments: receiver/sender/recordId');
  const [receiver, sender, recordId] = segments.map((segment) => fromBase64url(segment));
  if (!receiver?.ok || receiver.value.length !== 32) return err('the receiver segment is not a 32-byte key');
  if (!sender?.ok || sender.value.length !== 32) return err('the sender segment is not a 32-byte key');
  if (!recordId?.ok || recordId.value.length !== RECORD_ID_BYTES) {
    return err(`the recordId segment is not ${RECORD_ID_BYTES} bytes`);
  }
  const path = { receiver: receiver.value, sender: sender.value, recordId: recordId.value };
  // One spelling per path: base64url has none other unpadded, but check rather than assume.
  return formatPath(path) === text ? ok(path) : err('the path is not in canonical form');
}
