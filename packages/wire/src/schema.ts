import { err, ok, utf8, utf8Fits, type Result } from '@postern/core';
import { decodeCanonical } from './cbor.ts';
import type { CborLimits } from './limits.ts';
import type { WireError, WireMap, WireValue } from './types.ts';

/**
 * Reads one field of a decoded value into a typed value, or says which field was wrong. `field`
 * is the path used in errors: `$` for the whole value, then `$.nonce`, `$.hops[2]`.
 * Readers compose, so a message codec is a schema plus one call to `decodeWith`:
 *
 *   const readPing = expectStruct({ nonce: expectBytes(16), seq: expectUint(0xffff_ffff) });
 *   const decodePing = (bytes: Uint8Array) => decodeWith(bytes, readPing);
 */
export type Reader<T> = (value: WireValue, field: string) => Result<T, WireError>;

/** The type a reader produces: `type Ping = ReadType<typeof readPing>`. */
export type ReadType<R> = R extends Reader<infer T> ? T : never;

/** Length bounds, inclusive. */
export interface LengthRange {
  readonly min: number;
  readonly max: number;
}

/** decodeCanonical, then the reader on the whole value (field `$`). Total, like decodeCanonical. */
export function decodeWith<T>(
  bytes: Uint8Array,
  reader: Reader<T>,
  limits?: Partial<CborLimits>,
): Result<T, WireError> {
  const decoded = decodeCanonical(bytes, limits);
  return decoded.ok ? reader(decoded.value, '$') : decoded;
}

export function badField(field: string, reason: string): Result<never, WireError> {
  return err({ code: 'WIRE_BAD_FIELD', field, reason });
}

export const expectBool: Reader<boolean> = (value, field) =>
  typeof value === 'boolean' ? ok(value) : badField(field, `expected a boolean, got ${kindOf(value)}`);

/** An integer from 0 to `max` (no more than Number.MAX_SAFE_INTEGER, which the decoder already enforces). */
export function expectUint(max: number = Number.MAX_SAFE_INTEGER): Reader<number> {
  return (value, field) => {
    if (typeof value !== 'number') return badField(field, `expected an integer, got ${kindOf(value)}`);
    if (value < 0 || value > max)
      return badField(field, `expected an integer from 0 to ${max}, got ${value}`);
    return ok(value);
  };
}

/** A byte string of exactly `length` bytes, or of a length within a range. */
export function expectBytes(length: number | LengthRange): Reader<Uint8Array> {
  const range = toRange(length);
  return (value, field) => {
    if (!(value instanceof Uint8Array)) return badField(field, `expected bytes, got ${kindOf(value)}`);
    const problem = lengthProblem(value.length, range, 'bytes');
    return problem === undefined ? ok(value) : badField(field, problem);
  };
}

/** A text string of at most `maxBytes` bytes of UTF-8. */
export function expectText(maxBytes: number): Reader<string> {
  return (value, field) => {
    if (typeof value !== 'string') return badField(field, `expected text, got ${kindOf(value)}`);
    if (utf8Fits(value, maxBytes)) return ok(value);
    const size = utf8(value).length;
    return size <= maxBytes
      ? ok(value)
      : badField(field, `expected at most ${maxBytes} bytes of text, got ${size}`);
  };
}

/** Exactly this value: a message kind or a version number. */
export function expectLiteral<const T extends string | number | boolean>(expected: T): Reader<T> {
  return (value, field) =>
    value === expected ? ok(expected) : badField(field, `expected ${JSON.stringify(expected)}`);
}

/** `null`, or what `reader` reads. */
export function expectNullable<T>(reader: Reader<T>): Reader<T | null> {
  return (value, field) => (value === null ? ok(null) : reader(value, field));
}

/** An array of any length within `length`, each element read by `item`. */
export function expectArrayOf<T>(item: Reader<T>, length: number | LengthRange): Reader<T[]> {
  const range = toRange(length);
  return (value, field) => {
    if (!Array.isArray(value)) return badField(field, `expected an array, got ${kindOf(value)}`);
    const elements = value as readonly WireValue[];
    const problem = lengthProblem(elements.length, range, 'elements');
    if (problem !== undefined) return badField(field, problem);
    const out: T[] = [];
    for (let i = 0; i < elements.length; i++) {
      const read = item(elements[i] as WireValue, `${field}[${i}]`);
      if (!read.ok) return read;
      out.push(read.value);
    }
    return ok(out);
  };
}

/** An array of exactly one element per reader: a compact positional message. */
export function expectTuple<const R extends readonly Reader<unknown>[]>(
  ...readers: R
): Reader<{ -readonly [K in keyof R]: ReadType<R[K]> }> {
  return (value, field) => {
    if (!Array.isArray(value)) return badField(field, `expected an array, got ${kindOf(value)}`);
    const elements = value as readonly WireValue[];
    if (elements.length !== readers.length) {
      return badField(field, `expected ${readers.length} elements, got ${elements.length}`);
    }
    const out: unknown[] = [];
    for (const [i, reader] of readers.entries()) {
      const read = reader(elements[i] as WireValue, `${field}[${i}]`);
      if (!read.ok) return read;
      out.push(read.value);
    }
    return ok(out as { -readonly [K in keyof R]: ReadType<R[K]> });
  };
}

/**
 * A map with exactly these keys, each read by its reader. Unknown keys are refused: what is signed
 * is exactly what the protocol understands.
 */
export function expectStruct<S extends Readonly<Record<string, Reader<unknown>>>>(
  fields: S,
): Reader<{ -readonly [K in keyof S]: ReadType<S[K]> }> {
  const names = Object.keys(fields);
  return (value, field) => {
    if (!isMap(value)) return badField(field, `expected a map, got ${kindOf(value)}`);
    const out: Record<string, unknown> = {};
    for (const name of names) {
      if (!Object.hasOwn(value, name)) return badField(`${field}.${name}`, 'missing');
      const read = (fields[name] as Reader<unknown>)(value[name] as WireValue, `${field}.${name}`);
      if (!read.ok) return read;
      out[name] = read.value;
    }
    const extra = Object.keys(value).find((key) => !Object.hasOwn(fields, key));
    if (extra !== undefined) return badField(`${field}.${extra}`, 'unexpected key');
    return ok(out as { -readonly [K in keyof S]: ReadType<S[K]> });
  };
}

/**
 * One of several message kinds, chosen by the text under `tagKey`; each variant's reader reads the
 * whole map, tag included (use expectLiteral for it). `expectVariant('t', { ping: readPing, pong: readPong })`.
 */
export function expectVariant<V extends Readonly<Record<string, Reader<unknown>>>>(
  tagKey: string,
  variants: V,
): Reader<ReadType<V[keyof V]>> {
  return (value, field) => {
    if (!isMap(value)) return badField(field, `expected a map, got ${kindOf(value)}`);
    const tag = value[tagKey];
    if (tag === undefined || !Object.hasOwn(value, tagKey)) return badField(`${field}.${tagKey}`, 'missing');
    if (typeof tag !== 'string' || !Object.hasOwn(variants, tag))
      return badField(`${field}.${tagKey}`, 'unknown kind');
    return (variants[tag] as Reader<ReadType<V[keyof V]>>)(value, field);
  };
}

function isMap(value: WireValue): value is WireMap {
  return (
    typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array)
  );
}

function kindOf(value: WireValue): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Uint8Array) return 'bytes';
  if (typeof value === 'object') return 'a map';
  if (typeof value === 'number') return 'an integer';
  return typeof value === 'string' ? 'text' : 'a boolean';
}

function toRange(length: number | LengthRange): LengthRange {
  return typeof length === 'number' ? { min: length, max: length } : length;
}

function lengthProblem(actual: number, range: LengthRange, unit: string): string | undefined {
  if (actual >= range.min && actual <= range.max) return undefined;
  const wanted = range.min === range.max ? `${range.min}` : `${range.min} to ${range.max}`;
  return `expected ${wanted} ${unit}, got ${actual}`;
}
