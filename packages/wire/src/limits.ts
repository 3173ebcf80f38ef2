import { UsageError } from '@postern/core';

/** Bounds on one CBOR value, checked by `decodeCanonical` before or while parsing, and by `encodeCanonical`. */
export interface CborLimits {
  /** Largest encoded value, checked before parsing. */
  readonly maxBytes: number;
  /** Deepest nesting of arrays and maps; a scalar has depth 0, `[]` depth 1. */
  readonly maxDepth: number;
  /** Most data items in one value, map keys included; bounds the objects one decode allocates. */
  readonly maxItems: number;
}

export const DEFAULT_CBOR_LIMITS: CborLimits = {
  // A signed value travels in one frame, so it can be no larger than a frame's payload.
  maxBytes: 1024 * 1024,
  // Postern messages nest a handful of levels; 32 leaves room for growth with no stack risk.
  maxDepth: 32,
  // ~100 bytes of JS heap per item: at most a few MB of objects per decoded value.
  maxItems: 65_536,
};

/** No caller may raise `maxDepth` past this: encoding recurses, and must stay far from the stack limit. */
export const MAX_DEPTH_CEILING = 256;

/** Default and largest payload of a frame. */
export const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024; // the largest message (a batch of envelopes) fits with room
export const MAX_FRAME_BYTES_CEILING = 0xffff_ffff; // the 4-byte length header can say no more

export function resolveCborLimits(limits: Partial<CborLimits> | undefined): CborLimits {
  if (limits === undefined) return DEFAULT_CBOR_LIMITS;
  const resolved = { ...DEFAULT_CBOR_LIMITS, ...limits };
  checkLimit('maxBytes', resolved.maxBytes, Number.MAX_SAFE_INTEGER);
  checkLimit('maxDepth', resolved.maxDepth, MAX_DEPTH_CEILING);
  checkLimit('maxItems', resolved.maxItems, Number.MAX_SAFE_INTEGER);
  return resolved;
}

/** A limit is a non-negative integer no larger than its ceiling; anything else is caller misuse. */
export function checkLimit(name: string, value: number, ceiling: number): void {
  if (!Number.isInteger(value) || value < 0 || value > ceiling) {
    throw new UsageError('WIRE_BAD_LIMIT', `${name} must be an integer from 0 to ${ceiling}, got ${value}`);
  }
}
