// Behaviour of the transport CipherStates that split() returns: nonces, rekey, limits, one-way patterns.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toHex, utf8 } from '@postern/core';
import { chachaNonce, rekeyed } from '../src/cipher-state.ts';
import { assertUsageError, completeHandshake, hex, partiesFor, sodium, transportFor } from './helpers.ts';

const XX = 'Noise_XX_25519_ChaChaPoly_BLAKE2b';
const crypto = sodium();

describe('nonces', () => {
  it('lays out the counter as §12.3 says: 4 zero bytes, then 64 bits little-endian', () => {
    assert.equal(toHex(chachaNonce(0)), '000000000000000000000000');
    assert.equal(toHex(chachaNonce(1)), '000000000100000000000000');
    assert.equal(toHex(chachaNonce(2 ** 32 + 5)), '000000000500000001000000');
    assert.equal(toHex(chachaNonce(Number.MAX_SAFE_INTEGER)), '00000000ffffffffffff1f00');
  });

  it('counts one nonce per message in each direction', () => {
    const { initiator: i, responder: r } = transportFor(crypto, XX);
    for (let n = 0; n < 3; n++) assert.ok(r.receive.decrypt(i.send.encrypt(utf8(`m${n}`))).ok);
    assert.equal(i.send.nonce, 3);
    assert.equal(r.receive.nonce, 3);
    assert.equal(r.send.nonce, 0);
  });

  it('does not advance the nonce on a failed decrypt, so the genuine message still opens', () => {
    const { initiator: i, responder: r } = transportFor(crypto, XX);
    const genuine = i.send.encrypt(utf8('genuine'), utf8('ad'));
    const forged = genuine.slice();
    forged[0] = (forged[0] ?? 0) ^ 0x80;
    assert.deepEqual(r.receive.decrypt(forged, utf8('ad')), {
      ok: false,
      error: { code: 'NOISE_DECRYPT_FAILED' },
    });
    assert.deepEqual(r.receive.decrypt(genuine, utf8('other ad')), {
      ok: false,
      error: { code: 'NOISE_DECRYPT_FAILED' },
    });
    assert.equal(r.receive.nonce, 0);
    assert.deepEqual(r.receive.decrypt(genuine, utf8('ad')), { ok: true, value: utf8('genuine') });
    assert.equal(r.receive.nonce, 1);
  });

  it('stops at messagesPerKeyMax: encrypt throws NOISE_NONCE_EXHAUSTED and decrypt reports it', () => {
    const { initiator: i, responder: r } = transportFor(crypto, XX, { messagesPerKeyMax: 3 });
    const sent = [0, 1, 2].map((n) => i.send.encrypt(utf8(`m${n}`)));
    assertUsageError(() => i.send.encrypt(utf8('one too many')), 'NOISE_NONCE_EXHAUSTED');
    for (const message of sent) assert.ok(r.receive.decrypt(message).ok);
    assert.deepEqual(r.receive.decrypt(sent[0] ?? new Uint8Array()), {
      ok: false,
      error: { code: 'NOISE_NONCE_EXHAUSTED' },
    });
  });

  it('refuses limits that are not integers from 0 to 2^53 − 1', () => {
    for (const messagesPerKeyMax of [-1, 1.5, 2 ** 53, Number.NaN]) {
      assertUsageError(() => transportFor(crypto, XX, { messagesPerKeyMax }), 'NOISE_BAD_LIMIT');
    }
  });
});

describe('rekey', () => {
  it('computes REKEY as the first 32 bytes of ENCRYPT(k, 2^64 − 1, zerolen, zeros) (§4.2)', () => {
    const key = hex('00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff');
    const maxNonce = hex('00000000ffffffffffffffff');
    const expected = crypto.chacha20poly1305Encrypt(key, maxNonce, new Uint8Array(32), new Uint8Array(0));
    assert.equal(toHex(rekeyed(crypto, key)), toHex(expected.subarray(0, 32)));
  });

  it('keeps both sides in step when both rekey at the same point, and keeps counting nonces', () => {
    const { initiator: i, responder: r } = transportFor(crypto, XX);
    assert.ok(r.receive.decrypt(i.send.encrypt(utf8('before'))).ok);
    i.send.rekey();
    const after = i.send.encrypt(utf8('after'));
    // The receiver has not rekeyed yet: the message fails and leaves its state alone.
    assert.equal(r.receive.decrypt(after).ok, false);
    r.receive.rekey();
    assert.deepEqual(r.receive.decrypt(after), { ok: true, value: utf8('after') });
    assert.equal(i.send.nonce, 2);
    assert.equal(r.receive.nonce, 2);
    // The other direction is untouched.
    assert.ok(i.receive.decrypt(r.send.encrypt(utf8('reply'))).ok);
  });
});

describe('message sizes', () => {
  it('carries a 65519-byte plaintext in a 65535-byte message and refuses one byte more', () => {
    const { initiator: i, responder: r } = transportFor(crypto, XX);
    const largest = i.send.encrypt(new Uint8Array(65_519));
    assert.equal(largest.length, 65_535);
    assert.ok(r.receive.decrypt(largest).ok);
    assertUsageError(() => i.send.encrypt(new Uint8Array(65_520)), 'NOISE_PAYLOAD_TOO_LARGE');
    assert.equal(i.send.nonce, 1);
  });

  it('reports messages shorter than a tag or longer than 65535 bytes by their lengths', () => {
    const { responder: r } = transportFor(crypto, XX);
    assert.deepEqual(r.receive.decrypt(new Uint8Array(15)), {
      ok: false,
      error: { code: 'NOISE_TRUNCATED', lengthBytes: 15, minBytes: 16 },
    });
    assert.deepEqual(r.receive.decrypt(new Uint8Array(65_536)), {
      ok: false,
      error: { code: 'NOISE_MESSAGE_TOO_LARGE', lengthBytes: 65_536, maxBytes: 65_535 },
    });
    assert.equal(r.receive.nonce, 0);
  });
});

describe('in-place encryption', () => {
  it('interoperates with encrypt and decrypt, and opens a message as a view of its own bytes', () => {
    const { initiator: i, responder: r } = transportFor(crypto, XX);
    for (const text of ['', 'one', 'a longer message'.repeat(100)]) {
      const plaintext = utf8(text);
      const buffer = new Uint8Array(plaintext.length + 16);
      buffer.set(plaintext);
      i.send.encryptInPlace(buffer, utf8('ad'));
      assert.deepEqual(r.receive.decrypt(buffer, utf8('ad')), { ok: true, value: plaintext });
      const sealed = i.send.encrypt(plaintext, utf8('ad'));
      const opened = r.receive.decryptInPlace(sealed, utf8('ad'));
      assert.deepEqual(opened, { ok: true, value: plaintext });
      assert.equal(opened.ok && opened.value.buffer, sealed.buffer, 'no copy');
    }
    assert.equal(r.receive.nonce, 6);
  });

  it('does not advance the nonce on a failed in-place decrypt', () => {
    const { initiator: i, responder: r } = transportFor(crypto, XX);
    const genuine = i.send.encrypt(utf8('genuine'));
    const forged = genuine.slice();
    forged[3] = (forged[3] ?? 0) ^ 1;
    assert.deepEqual(r.receive.decryptInPlace(forged), {
      ok: false,
      error: { code: 'NOISE_DECRYPT_FAILED' },
    });
    assert.deepEqual(r.receive.decryptInPlace(new Uint8Array(15)), {
      ok: false,
      error: { code: 'NOISE_TRUNCATED', lengthBytes: 15, minBytes: 16 },
    });
    assert.equal(r.receive.nonce, 0);
    assert.deepEqual(r.receive.decryptInPlace(genuine), { ok: true, value: utf8('genuine') });
  });

  it('refuses a buffer without room for the tag, or a plaintext above 65519 bytes', () => {
    const { initiator: i } = transportFor(crypto, XX);
    assertUsageError(() => i.send.encryptInPlace(new Uint8Array(15)), 'NOISE_NO_ROOM_FOR_TAG');
    assertUsageError(() => i.send.encryptInPlace(new Uint8Array(65_520 + 16)), 'NOISE_PAYLOAD_TOO_LARGE');
    assert.equal(i.send.nonce, 0);
  });
});

describe('one-way patterns', () => {
  it('carries transport from initiator to responder only (§7.4)', () => {
    for (const name of ['N', 'K', 'X', 'Xpsk1']) {
      const { initiator, responder } = partiesFor(crypto, `Noise_${name}_25519_ChaChaPoly_SHA512`);
      completeHandshake(initiator, responder);
      const i = initiator.split();
      const r = responder.split();
      assert.deepEqual(r.receive.decrypt(i.send.encrypt(utf8('one way'))), {
        ok: true,
        value: utf8('one way'),
      });
      assertUsageError(() => r.send.encrypt(utf8('back')), 'NOISE_ONE_WAY');
      assertUsageError(() => r.send.rekey(), 'NOISE_ONE_WAY');
      assert.deepEqual(i.receive.decrypt(new Uint8Array(32)), {
        ok: false,
        error: { code: 'NOISE_ONE_WAY' },
      });
    }
  });
});
