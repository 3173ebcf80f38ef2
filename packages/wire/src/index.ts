export type { WireValue, WireMap, WireError, FrameError, UnsupportedType } from './types.ts';
export { encodeCanonical, decodeCanonical } from './cbor.ts';
export {
  decodeWith,
  badField,
  expectBool,
  expectUint,
  expectBytes,
  expectText,
  expectLiteral,
  expectNullable,
  expectArrayOf,
  expectTuple,
  expectStruct,
  expectVariant,
  type Reader,
  type ReadType,
  type LengthRange,
} from './schema.ts';
export { encodeFrame, FrameDecoder, FRAME_HEADER_BYTES } from './framing.ts';
export {
  DEFAULT_CBOR_LIMITS,
  DEFAULT_MAX_FRAME_BYTES,
  MAX_DEPTH_CEILING,
  MAX_FRAME_BYTES_CEILING,
  type CborLimits,
} from './limits.ts';
