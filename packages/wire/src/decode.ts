import { compareBytes, err, fromUtf8, ok, type Result } from '@postern/core';
import type { CborLimits } from './limits.ts';
import type { UnsupportedType, WireError, WireValue } from './types.ts';

// Our own decoder rather than cborg's `decode`, which recurses once per nesting level (a stack
// overflow near depth 10,000), drops a leading U+FEFF from text and replaces invalid UTF-8
// instead of refusing it, and reports errors as untyped strings. This one is a single iterative
// pass that refuses everything outside the data model, so deep input cannot reach the stack.

const Major = { Uint: 0, NegInt: 1, Bytes: 2, Text: 3, Array: 4, Map: 5, Tag: 6, Simple: 7 } as const;

/** The smallest argument that needs 1, 2, 4 or 8 bytes: anything below has a shorter form. */
const MIN_BY_SIZE: Readonly<Record<number, number>> = { 1: 24, 2: 0x100, 4: 0x1_0000, 8: 0x1_0000_0000 };

/** A container whose children are still being read. */
type Open =
  | { kind: 'array'; target: WireValue[]; remaining: number }
  | {
      kind: 'map';
      target: Record<string, WireValue>;
      remaining: number; // keys and values still to read
      key: string; // the key waiting for its value
      previousKey: Uint8Array | undefined; // encoded bytes of the previous key, for the order check
    };

/** One data item read: a scalar, or an empty container with the number of children to follow. */
interface Item {
  value: WireValue;
  open: Open | undefined;
}

/**
 * Decodes exactly one data item that fills `bytes`, refusing non-minimal heads, indefinite lengths,
 * floats, tags, undefined, unsafe integers, non-text or unsorted or duplicate map keys and invalid
 * UTF-8. Never throws. The caller checks `bytes.length` first and re-encodes afterwards.
 */
export function decodeItem(bytes: Uint8Array, limits: CborLimits): Result<WireValue, WireError> {
  return new ItemDecoder(bytes, limits).run();
}

class ItemDecoder {
  private readonly bytes: Uint8Array;
  private readonly limits: CborLimits;
  private readonly stack: Open[] = [];
  private pos = 0;
  private items = 0;

  constructor(bytes: Uint8Array, limits: CborLimits) {
    this.bytes = bytes;
    this.limits = limits;
  }

  run(): Result<WireValue, WireError> {
    let root: WireValue = null;
    do {
      const start = this.pos;
      const parent = this.stack.at(-1);
      const isKey = parent?.kind === 'map' && parent.remaining % 2 === 0;
      const item = this.readItem(isKey);
      if (!item.ok) return item;
      if (parent === undefined) root = item.value.value;
      else {
        const attached = this.attach(parent, item.value.value, start);
        if (!attached.ok) return attached;
      }
      if (item.value.open !== undefined) this.stack.push(item.value.open);
      while (this.stack.at(-1)?.remaining === 0) this.stack.pop();
    } while (this.stack.length > 0);
    if (this.pos !== this.bytes.length) return err({ code: 'WIRE_TRAILING_BYTES', offset: this.pos });
    return ok(root);
  }

  private readItem(isKey: boolean): Result<Item, WireError> {
    const start = this.pos;
    const first = this.bytes[start];
    if (first === undefined) return truncated(start, 'a data item is missing');
    if (++this.items > this.limits.maxItems) {
      return err({ code: 'WIRE_TOO_MANY_ITEMS', offset: start, max: this.limits.maxItems });
    }
    const major = first >> 5;
    if (isKey && major !== Major.Text) return unsupported(start, 'non-text-key');
    if (major === Major.Simple) return this.readSimple(first & 31);
    if (major === Major.Tag) return unsupported(start, 'tag');
    const head = readHead(this.bytes, start);
    if (!head.ok) return head;
    this.pos = head.value.end;
    const arg = head.value.arg;
    switch (major) {
      case Major.Uint:
        return arg > Number.MAX_SAFE_INTEGER ? unsupported(start, 'unsafe-integer') : scalar(arg);
      case Major.NegInt: // the value is -1 - arg, which must stay >= -MAX_SAFE_INTEGER
        return arg > Number.MAX_SAFE_INTEGER - 1 ? unsupported(start, 'unsafe-integer') : scalar(-1 - arg);
      case Major.Bytes:
      case Major.Text:
        return this.readString(start, major, arg);
      default:
        return this.openContainer(start, major === Major.Map, arg);
    }
  }

  private readSimple(info: number): Result<Item, WireError> {
    const start = this.pos;
    this.pos += 1;
    if (info === 20) return scalar(false);
    if (info === 21) return scalar(true);
    if (info === 22) return scalar(null);
    if (info === 23) return unsupported(start, 'undefined');
    if (info >= 25 && info <= 27) return unsupported(start, 'float');
    if (info === 31) return unsupported(start, 'indefinite-length'); // a "break"
    if (info >= 28) return malformed(start, 'reserved additional information');
    return unsupported(start, 'simple-value');
  }

  private readString(start: number, major: number, length: number): Result<Item, WireError> {
    if (length > this.bytes.length - this.pos) return truncated(start, 'a string runs past the end');
    const end = this.pos + length;
    const content = this.bytes.subarray(this.pos, end);
    this.pos = end;
    if (major === Major.Bytes) return scalar(new Uint8Array(content)); // a plain copy, even of a Node Buffer
    const text = fromUtf8(content); // fatal and BOM-preserving: the text is exactly these bytes
    return text.ok ? scalar(text.value) : malformed(start, 'text is not valid UTF-8');
  }

  private openContainer(start: number, isMap: boolean, count: number): Result<Item, WireError> {
    if (this.stack.length + 1 > this.limits.maxDepth) {
      return err({ code: 'WIRE_TOO_DEEP', offset: start, max: this.limits.maxDepth });
    }
    const children = isMap ? count * 2 : count;
    // Every child takes at least one byte: a count larger than what is left is a lie, refused early.
    if (children > this.bytes.length - this.pos) return truncated(start, 'fewer items than declared');
    if (!isMap) {
      const target: WireValue[] = [];
      return ok({
        value: target,
        open: children > 0 ? { kind: 'array', target, remaining: children } : undefined,
      });
    }
    const target: Record<string, WireValue> = {};
    const open: Open = { kind: 'map', target, remaining: children, key: '', previousKey: undefined };
    return ok({ value: target, open: children > 0 ? open : undefined });
  }

  private attach(parent: Open, value: WireValue, start: number): Result<null, WireError> {
    parent.remaining -= 1;
    if (parent.kind === 'array') {
      parent.target.push(value);
    } else if (parent.remaining % 2 === 1) {
      const encodedKey = this.bytes.subarray(start, this.pos);
      const order = parent.previousKey === undefined ? 1 : compareBytes(encodedKey, parent.previousKey);
      parent.key = value as string; // readItem only lets text through in key position
      if (order === 0) return err({ code: 'WIRE_DUPLICATE_KEY', offset: start, key: parent.key });
      if (order < 0) return nonCanonical(start, 'map keys are not in bytewise order of their encodings');
      parent.previousKey = encodedKey;
    } else if (parent.key === '__proto__') {
      // plain assignment would call the prototype setter instead of creating a property
      Object.defineProperty(parent.target, parent.key, {
        value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    } else {
      parent.target[parent.key] = value;
    }
    return ok(null);
  }
}

interface Head {
  arg: number; // exact up to 2^53; larger 8-byte arguments are only compared, never used
  end: number;
}

/** Reads the head of a major type 0-5 item and checks its argument is in its shortest form. */
function readHead(bytes: Uint8Array, start: number): Result<Head, WireError> {
  const info = (bytes[start] ?? 0) & 31;
  if (info < 24) return ok({ arg: info, end: start + 1 });
  if (info === 31) {
    const major = (bytes[start] ?? 0) >> 5;
    return major >= Major.Bytes
      ? unsupported(start, 'indefinite-length')
      : malformed(start, 'reserved additional information');
  }
  if (info > 27) return malformed(start, 'reserved additional information');
  const size = 1 << (info - 24);
  if (size > bytes.length - start - 1) return truncated(start, 'a head runs past the end');
  let arg = 0;
  for (let i = 1; i <= size; i++) arg = arg * 256 + (bytes[start + i] ?? 0);
  if (arg < (MIN_BY_SIZE[size] ?? 0))
    return nonCanonical(start, 'an integer or length is not in its shortest form');
  return ok({ arg, end: start + 1 + size });
}

function scalar(value: WireValue): Result<Item, never> {
  return ok({ value, open: undefined });
}

/** The input ends inside a data item: a cut-short message, told apart from a garbled one. */
function truncated(offset: number, reason: string): Result<never, WireError> {
  return err({ code: 'WIRE_TRUNCATED', offset, reason });
}

function malformed(offset: number, reason: string): Result<never, WireError> {
  return err({ code: 'WIRE_MALFORMED', offset, reason });
}

function unsupported(offset: number, type: UnsupportedType): Result<never, WireError> {
  return err({ code: 'WIRE_UNSUPPORTED_TYPE', offset, type });
}

function nonCanonical(offset: number, reason: string): Result<never, WireError> {
  return err({ code: 'WIRE_NON_CANONICAL', offset, reason });
}
