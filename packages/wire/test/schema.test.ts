import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { type Result } from '@postern/core';
import {
  decodeWith,
  encodeCanonical,
  expectArrayOf,
  expectBool,
  expectBytes,
  expectLiteral,
  expectNullable,
  expectStruct,
  expectText,
  expectTuple,
  expectVariant,
  expectUint,
  type ReadType,
  type WireError,
} from '../src/index.ts';

// A tiny protocol, written the way a messages.ts would be: a schema per message, a type read off
// the schema, an encoder that builds the map, a decoder that is one call.
const readPing = expectStruct({
  t: expectLiteral('ping'),
  nonce: expectBytes(8),
  seq: expectUint(0xffff_ffff),
  note: expectNullable(expectText(64)),
});
const readPong = expectStruct({
  t: expectLiteral('pong'),
  nonce: expectBytes(8),
  hops: expectArrayOf(expectTuple(expectBytes({ min: 1, max: 32 }), expectBool), { min: 0, max: 4 }),
});
type Ping = ReadType<typeof readPing>;
type Pong = ReadType<typeof readPong>;
type Message = Ping | Pong;

const readMessage = expectVariant('t', { ping: readPing, pong: readPong });

function encodeMessage(m: Message): Uint8Array {
  return encodeCanonical(m);
}

function decodeMessage(bytes: Uint8Array): Result<Message, WireError> {
  return decodeWith(bytes, readMessage);
}

function ok<T>(value: T): Result<T, never> {
  return { ok: true, value };
}

function fieldError(result: Result<unknown, WireError>): { field: string; reason: string } {
  assert.equal(result.ok, false);
  if (result.ok || result.error.code !== 'WIRE_BAD_FIELD') return assert.fail(JSON.stringify(result));
  return { field: result.error.field, reason: result.error.reason };
}

const nonce = new Uint8Array(8).fill(7);

describe('schema readers, through an example codec', () => {
  it('round-trips each message kind', () => {
    const ping: Ping = { t: 'ping', nonce, seq: 42, note: null };
    const pong: Pong = { t: 'pong', nonce, hops: [[new Uint8Array([1]), true]] };
    assert.deepEqual(decodeMessage(encodeMessage(ping)), ok(ping));
    assert.deepEqual(decodeMessage(encodeMessage(pong)), ok(pong));
  });

  it('names the field that is missing, mistyped, out of range or unexpected', () => {
    const base = { t: 'ping', nonce, seq: 1, note: 'hi' };
    const { seq: _seq, ...noSeq } = base;
    assert.deepEqual(fieldError(decodeMessage(encodeCanonical(noSeq))), {
      field: '$.seq',
      reason: 'missing',
    });
    assert.deepEqual(fieldError(decodeMessage(encodeCanonical({ ...base, seq: 2 ** 32 }))), {
      field: '$.seq',
      reason: 'expected an integer from 0 to 4294967295, got 4294967296',
    });
    assert.deepEqual(fieldError(decodeMessage(encodeCanonical({ ...base, nonce: 'x' }))), {
      field: '$.nonce',
      reason: 'expected bytes, got text',
    });
    assert.deepEqual(fieldError(decodeMessage(encodeCanonical({ ...base, extra: true }))), {
      field: '$.extra',
      reason: 'unexpected key',
    });
    assert.equal(
      fieldError(decodeMessage(encodeCanonical({ ...base, note: 'é'.repeat(33) }))).field,
      '$.note',
    );
  });

  it('gives paths into arrays and tuples', () => {
    const pong = {
      t: 'pong',
      nonce,
      hops: [
        [new Uint8Array([1]), true],
        [new Uint8Array(0), false],
      ],
    };
    assert.deepEqual(fieldError(decodeMessage(encodeCanonical(pong))), {
      field: '$.hops[1][0]',
      reason: 'expected 1 to 32 bytes, got 0',
    });
    const short = { t: 'pong', nonce, hops: [[new Uint8Array([1])]] };
    assert.equal(fieldError(decodeMessage(encodeCanonical(short))).field, '$.hops[0]');
    const many = { t: 'pong', nonce, hops: Array.from({ length: 5 }, () => [new Uint8Array([1]), true]) };
    assert.deepEqual(fieldError(decodeMessage(encodeCanonical(many))), {
      field: '$.hops',
      reason: 'expected 0 to 4 elements, got 5',
    });
  });

  it('refuses an unknown kind and passes decoding errors through unchanged', () => {
    assert.deepEqual(fieldError(decodeMessage(encodeCanonical({ t: 'pang' }))), {
      field: '$.t',
      reason: 'unknown kind',
    });
    assert.deepEqual(fieldError(decodeMessage(encodeCanonical({ nonce }))), {
      field: '$.t',
      reason: 'missing',
    });
    assert.deepEqual(fieldError(decodeMessage(encodeCanonical([1]))), {
      field: '$',
      reason: 'expected a map, got an array',
    });
    assert.deepEqual(decodeMessage(new Uint8Array([0xf9, 0, 0])), {
      ok: false,
      error: { code: 'WIRE_UNSUPPORTED_TYPE', offset: 0, type: 'float' },
    });
  });
});
