// The relay's messages: the JSON and CBOR forms carry the same value and the same signature, any
// input decodes to a message or a typed error (never an exception), and the published signing
// example in docs/protocols/relay.md is what the code signs.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Rng, fromHex, toBase64url, toHex } from '@postern/core';
import { createNobleProvider, createSodiumProvider } from '@postern/crypto';
import {
  type RelayAnswer,
  type RelayBody,
  type RelayMessage,
  type RelayRequest,
  DEFAULT_RELAY_LIMITS,
  decodeRelayJson,
  decodeRelayMessage,
  encodeRelayJson,
  encodeRelayMessage,
  formatPath,
  formatRelayAddress,
  parsePath,
  parseRelayAddress,
  signRelayMessage,
  signingBytes,
  verifyRelayMessage,
} from '../src/index.ts';

const rng = Rng.fromSeed('relay codecs');
const crypto = createSodiumProvider({ random: (n) => rng.bytes(n) });
const alice = crypto.ed25519KeyPairFromSeed(rng.bytes(32));
const relay = crypto.ed25519KeyPairFromSeed(rng.bytes(32));
const limits = DEFAULT_RELAY_LIMITS;
const T = 1_790_000_000_000;

const path = formatPath({ receiver: relay.publicKey, sender: alice.publicKey, recordId: rng.bytes(16) });
const write = signRelayMessage(crypto, alice, relay.publicKey, T, {
  type: 'write',
  recordId: rng.bytes(16),
  ttl: 86_400_000,
  tag: 'msg',
  content: rng.bytes(700),
});
const requests: RelayRequest[] = [
  write.request,
  { type: 'read', path },
  { type: 'inventory', afterTs: 0, beforeTs: T },
  { type: 'listen', afterTs: T - 1 },
  { type: 'delete', recordId: rng.bytes(16) },
  { type: 'RequestUsage', afterTs: 1, beforeTs: T },
];
const answers: RelayAnswer[] = [
  { type: 'result', re: rng.bytes(16), value: true },
  { type: 'result', re: rng.bytes(16), value: null },
  { type: 'result', re: rng.bytes(16), value: { msg: { ...write, type: 'write' } } as never },
  {
    type: 'result',
    re: rng.bytes(16),
    value: { type: 'Inventory', paths: [path], complete: true, throughTs: T },
  },
  { type: 'error', re: rng.bytes(16), code: 'RELAY_QUOTA_FULL', error: 'full: …' },
  { type: 'records', re: rng.bytes(16), paths: [path, path] },
];
const samples: RelayMessage[] = [
  ...requests.map((body) => signRelayMessage(crypto, alice, relay.publicKey, T, body)),
  ...answers.map((body) => signRelayMessage(crypto, relay, alice.publicKey, T, body)),
];

describe('relay message codecs', () => {
  it('round-trips every request and answer through both forms, signature intact', () => {
    for (const message of samples) {
      const cbor = decodeRelayMessage(encodeRelayMessage(message), limits);
      assert.ok(cbor.ok, JSON.stringify(cbor));
      assert.deepEqual(encodeRelayMessage(cbor.value), encodeRelayMessage(message));
      const json = decodeRelayJson(encodeRelayJson(message), limits);
      assert.ok(json.ok, JSON.stringify(json));
      assert.deepEqual(encodeRelayMessage(json.value), encodeRelayMessage(message));
      assert.ok(verifyRelayMessage(crypto, json.value), `${message.type} verifies after JSON`);
    }
  });

  it('verifies with the pure-JS provider what sodium signed', () => {
    const noble = createNobleProvider();
    for (const message of samples) assert.ok(verifyRelayMessage(noble, message));
  });

  it('writes the JSON form as seed 003 shows it, bytes as unpadded base64url', () => {
    const json = JSON.parse(encodeRelayJson(samples[1] as RelayMessage)) as { msg: Record<string, unknown> };
    assert.deepEqual(Object.keys(json.msg).sort(), [
      'from',
      'nonce',
      'request',
      'sig',
      'timestamp',
      'to',
      'type',
    ]);
    assert.equal(json.msg['type'], 'read');
    assert.equal(json.msg['from'], toBase64url(alice.publicKey));
    assert.deepEqual(json.msg['request'], { type: 'read', path });
  });

  it('refuses a msg.type that differs from request.type, unknown fields and missing ones', () => {
    const json = JSON.parse(encodeRelayJson(samples[1] as RelayMessage)) as { msg: Record<string, unknown> };
    const variants = [
      { msg: { ...json.msg, type: 'write' } },
      { msg: { ...json.msg, extra: 1 } },
      { msg: { ...json.msg, sig: undefined } },
      { msg: { ...json.msg, timestamp: 1.5 } },
      { msg: { ...json.msg, from: 'not base64url!' } },
      { msg: json.msg, more: true },
      [],
      'a string',
    ];
    for (const variant of variants) {
      const decoded = decodeRelayJson(JSON.stringify(variant), limits);
      assert.equal(decoded.ok, false, JSON.stringify(variant));
    }
  });

  it('addresses the error for a malformed message to its sender and nonce when it shows them', () => {
    const json = JSON.parse(encodeRelayJson(samples[0] as RelayMessage)) as { msg: Record<string, unknown> };
    const decoded = decodeRelayJson(
      JSON.stringify({ msg: { ...json.msg, request: { type: 'write' } } }),
      limits,
    );
    assert.ok(!decoded.ok);
    assert.equal(toBase64url(decoded.error.nonce ?? new Uint8Array()), json.msg['nonce']);
    assert.equal(toBase64url(decoded.error.from ?? new Uint8Array()), json.msg['from']);
  });

  it('decodes any bytes and any text to a message or a typed error, never an exception', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        const decoded = decodeRelayMessage(bytes, limits);
        assert.ok(decoded.ok || typeof decoded.error.error.code === 'string');
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json()), (text) => {
        const decoded = decodeRelayJson(text, limits);
        assert.ok(decoded.ok || typeof decoded.error.error.code === 'string');
      }),
      { numRuns: 2000 },
    );
  });

  it('survives every single-byte change of an encoded message: refused, or decoded and failing its signature', () => {
    const bytes = encodeRelayMessage(samples[2] as RelayMessage);
    for (let i = 0; i < bytes.length; i++) {
      const changed = bytes.slice();
      changed[i] = (changed[i] as number) ^ 0x01;
      const decoded = decodeRelayMessage(changed, limits);
      if (decoded.ok) assert.equal(verifyRelayMessage(crypto, decoded.value), false, `byte ${i}`);
    }
  });

  it('signs the example of docs/protocols/relay.md', () => {
    // Keys from seeds 0x01… and 0x02…; the nonce is 16 bytes of 0x03.
    const sender = crypto.ed25519KeyPairFromSeed(new Uint8Array(32).fill(1));
    const receiver = crypto.ed25519KeyPairFromSeed(new Uint8Array(32).fill(2));
    const unsigned = {
      from: sender.publicKey,
      to: receiver.publicKey,
      timestamp: 1_790_000_000_000,
      nonce: new Uint8Array(16).fill(3),
      request: {
        type: 'write',
        recordId: new Uint8Array(16).fill(4),
        ttl: 86_400_000,
        tag: 'msg',
        content: new Uint8Array([5, 6, 7]),
      } as RelayBody,
    };
    const signed = signingBytes(unsigned);
    assert.equal(toHex(signed), EXAMPLE_SIGNED_HEX);
    const sig = crypto.ed25519Sign(sender.secretKey, signed);
    assert.equal(toHex(sig), EXAMPLE_SIG_HEX);
    const message: RelayMessage = { ...unsigned, type: 'write', sig };
    assert.equal(encodeRelayJson(message), EXAMPLE_JSON);
    const fromJson = decodeRelayJson(EXAMPLE_JSON, limits);
    assert.ok(fromJson.ok && verifyRelayMessage(crypto, fromJson.value));
    assert.ok(fromHex(EXAMPLE_SIG_HEX).ok);
  });
});

describe('relay paths and addresses', () => {
  it('round-trips a path and refuses anything but the canonical three segments', () => {
    const parsed = parsePath(path);
    assert.ok(parsed.ok);
    assert.equal(formatPath(parsed.value), path);
    for (const bad of ['', 'a/b', `${path}/x`, path.replace(/^./, '+'), `${path}=`, path.toUpperCase()]) {
      assert.equal(parsePath(bad).ok, false, bad);
    }
    fc.assert(fc.property(fc.string(), (text) => void parsePath(text)));
  });

  it('names a relay by its WebSocket URL and key', () => {
    const text = formatRelayAddress({ url: 'ws://127.0.0.1:7700/', key: relay.publicKey });
    const parsed = parseRelayAddress(text);
    assert.ok(parsed.ok);
    assert.equal(parsed.value.url, 'ws://127.0.0.1:7700/');
    assert.equal(toHex(parsed.value.key), toHex(relay.publicKey));
    assert.match(parseRelayAddress('ws://127.0.0.1:7700/').ok ? '' : 'no key', /no key/);
    assert.equal(parseRelayAddress(`http://127.0.0.1/#${toBase64url(relay.publicKey)}`).ok, false);
    assert.equal(parseRelayAddress('ws://127.0.0.1/#short').ok, false);
  });
});

const EXAMPLE_SIGNED_HEX =
  '706f737465726e2f72656c61792f76310aa662746f58208139770ea87d175f56a35466c34c7ecccb8d8a91b4ee37a25df60f5b8fc9b3946466726f6d58208a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c6474797065657772697465656e6f6e636550030303030303030303030303030303036772657175657374a563746167636d73676374746c1a05265c00647479706565777269746567636f6e74656e7443050607687265636f7264496450040404040404040404040404040404046974696d657374616d701b000001a0c4506c00';
const EXAMPLE_SIG_HEX =
  'd17f032749d69f2b204717b1bef34ba29c4cf1f63ea9b4ab1a72b42bac4fb0fffa72e86439e9d78df863499eeed3baaca5f17b659e8c8e5218c812fadd021e0f';
const EXAMPLE_JSON =
  '{"msg":{"type":"write","from":"iojj3XQJ8ZX9UtstPLpdcspnCb8dlBIb83SIAbQPb1w","to":"gTl3Dqh9F19Wo1Rmw0x-zMuNipG07jeiXfYPW4_Js5Q","timestamp":1790000000000,"nonce":"AwMDAwMDAwMDAwMDAwMDAw","request":{"type":"write","recordId":"BAQEBAQEBAQEBAQEBAQEBA","ttl":86400000,"tag":"msg","content":"BQYH"},"sig":"0X8DJ0nWnysgRxexvvNLopxM8fY-qbSrGnK0K6xPsP_6cuhkOenXjfhjSZ7u07qspfF7ZZ6MjlIYyBL63QIeDw"}}';
