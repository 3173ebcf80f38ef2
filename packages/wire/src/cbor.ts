import { bytesEqual, err, ok, UsageError, type Result } from '@postern/core';
import { encode, encodeInto } from 'cborg';
import { decodeItem } from './decode.ts';
import { resolveCborLimits, type CborLimits } from './limits.ts';
import type { WireError, WireValue } from './types.ts';

// Canonical form: RFC 8949 §4.2.1 core deterministic encoding. Integers and lengths in their
// shortest form, definite lengths only, map keys sorted by the bytewise order of their encodings.
// Keys are text only, so that order is the same as length-first (RFC 7049 §3.9, dag-cbor): the
// encoded head carries the UTF-8 length. cborg's default map sorter (UTF-8 length, then bytes)
// therefore produces it, and decodeItem checks it with a plain bytewise comparison.

/**
 * Encodes a value of the data model into its one canonical byte string: the bytes to sign.
 * Throws UsageError 'WIRE_NOT_ENCODABLE' for anything outside the model or the limits (a float, an
 * unsafe integer, undefined, a lone surrogate, a class instance, a cycle, too deep, too large).
 * `-0` is encoded as `0`.
 */
export function encodeCanonical(value: WireValue, limits?: Partial<CborLimits>): Uint8Array {
  const resolved = resolveCborLimits(limits);
  const counter = { items: 0 };
  checkEncodable(value, resolved, 0, counter, []);
  const bytes = encodeToScratch(value).slice(); // a copy of its own: the scratch buffer is reused
  if (bytes.length > resolved.maxBytes) {
    notEncodable(`the encoding is ${bytes.length} bytes, above the limit of ${resolved.maxBytes}`);
  }
  return bytes;
}

/**
 * Decodes bytes that must be the canonical encoding of one value of the data model. Total: any
 * input gives a value or a WireError, never an exception. The size is checked before parsing;
 * depth and item count while parsing; the value is then re-encoded and must equal the input.
 */
export function decodeCanonical(
  bytes: Uint8Array,
  limits?: Partial<CborLimits>,
): Result<WireValue, WireError> {
  const resolved = resolveCborLimits(limits);
  if (bytes.length > resolved.maxBytes) {
    return err({ code: 'WIRE_TOO_LARGE', size: bytes.length, max: resolved.maxBytes });
  }
  const decoded = decodeItem(bytes, resolved);
  if (!decoded.ok) return decoded;
  // decodeItem already enforces every canonical rule; this catches any disagreement between it
  // and the encoder, so what we accept is always exactly what we would have signed.
  const again = encodeToScratch(decoded.value);
  if (!bytesEqual(again, bytes)) {
    return err({
      code: 'WIRE_NON_CANONICAL',
      offset: firstDifference(again, bytes),
      reason: 're-encoding differs',
    });
  }
  return ok(decoded.value);
}

/**
 * cborg's `encode` builds its output from small pooled chunks and joins them: most of the cost of
 * encoding a small value. Encoding into one reused buffer skips that; a value too large for it
 * takes the ordinary path. The view is valid until the next call.
 */
const scratch = new Uint8Array(64 * 1024);

function encodeToScratch(value: WireValue): Uint8Array {
  try {
    return scratch.subarray(0, encodeInto(value, scratch).written);
  } catch (e) {
    if (!(e instanceof Error && /too small/.test(e.message))) throw e;
    return encode(value); // larger than the scratch buffer
  }
}

const LONE_SURROGATE = /\p{Cs}/u; // in a /u regex only unpaired surrogates match

/** Walks a value (recursion bounded by maxDepth) and throws at the first thing outside the model. */
function checkEncodable(
  value: unknown,
  limits: CborLimits,
  depth: number,
  counter: { items: number },
  path: (string | number)[],
): void {
  counter.items += 1;
  if (counter.items > limits.maxItems) notEncodable(`more than ${limits.maxItems} items`, path);
  if (value === null || typeof value === 'boolean' || value instanceof Uint8Array) return;
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) notEncodable(`${value} is not a safe integer`, path);
    return;
  }
  if (typeof value === 'string') {
    if (LONE_SURROGATE.test(value))
      notEncodable('a string holds a lone surrogate, which UTF-8 cannot encode', path);
    return;
  }
  const entries = containerEntries(value, path);
  if (depth + 1 > limits.maxDepth) notEncodable(`nesting deeper than ${limits.maxDepth}`, path);
  for (const [key, child] of entries) {
    path.push(key);
    checkEncodable(child, limits, depth + 1, counter, path);
    path.pop();
  }
}

/** The children of an array or a plain object; anything else is outside the model. */
function containerEntries(value: unknown, path: (string | number)[]): [string | number, unknown][] {
  if (Array.isArray(value)) {
    const out: [number, unknown][] = [];
    for (let i = 0; i < value.length; i++) out.push([i, value[i]]); // holes become undefined: refused
    return out;
  }
  if (typeof value === 'object' && value !== null) {
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto === Object.prototype || proto === null) return Object.entries(value);
  }
  notEncodable(`${describe(value)} is not in the data model`, path);
}

function describe(value: unknown): string {
  if (typeof value === 'object' && value !== null)
    return `an instance of ${value.constructor?.name ?? 'a class'}`;
  return `a value of type ${typeof value}`;
}

function notEncodable(reason: string, path: (string | number)[] = []): never {
  const where = path.length === 0 ? 'value' : `value.${path.join('.')}`;
  throw new UsageError('WIRE_NOT_ENCODABLE', `cannot encode ${where}: ${reason}`);
}

function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return n;
}
