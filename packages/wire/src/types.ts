/**
 * Postern's data model: what it signs and sends. Integers are safe integers only (no floats, no
 * bigint); map keys are text; no undefined, tags or other CBOR extras.
 */
export type WireValue = null | boolean | number | string | Uint8Array | readonly WireValue[] | WireMap;
export interface WireMap {
  readonly [key: string]: WireValue;
}

/** CBOR data items outside Postern's data model, named for error reports. */
export type UnsupportedType =
  'float' | 'tag' | 'undefined' | 'simple-value' | 'indefinite-length' | 'unsafe-integer' | 'non-text-key';

/**
 * Why bytes were refused. `offset` is where in the input the problem starts. `WIRE_BAD_FIELD` comes
 * from the schema readers: the bytes were canonical CBOR but not the message the protocol expects.
 */
export type WireError =
  | { code: 'WIRE_TOO_LARGE'; size: number; max: number }
  | { code: 'WIRE_TOO_DEEP'; offset: number; max: number }
  | { code: 'WIRE_TOO_MANY_ITEMS'; offset: number; max: number }
  | { code: 'WIRE_TRUNCATED'; offset: number; reason: string }
  | { code: 'WIRE_MALFORMED'; offset: number; reason: string }
  | { code: 'WIRE_UNSUPPORTED_TYPE'; offset: number; type: UnsupportedType }
  | { code: 'WIRE_NON_CANONICAL'; offset: number; reason: string }
  | { code: 'WIRE_DUPLICATE_KEY'; offset: number; key: string }
  | { code: 'WIRE_TRAILING_BYTES'; offset: number }
  | { code: 'WIRE_BAD_FIELD'; field: string; reason: string };

/** Framing refuses a stream for one reason only: a length header above the maximum. */
export type FrameError = { code: 'WIRE_FRAME_TOO_LARGE'; size: number; max: number };
