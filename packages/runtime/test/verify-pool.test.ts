import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createSodiumProvider } from '@postern/crypto';
import { VerifyPool } from '../src/verify-pool.ts';

const crypto = createSodiumProvider();

describe('signature verification on worker threads', () => {
  const pool = new VerifyPool(2);
  after(() => pool.close());

  it('agrees with the provider on valid, forged and malformed signatures, in one batch or many', async () => {
    const key = crypto.ed25519KeyPairFromSeed(crypto.randomBytes(32));
    const cases = Array.from({ length: 300 }, (_, i) => {
      const message = crypto.randomBytes(i % 50);
      const signature = crypto.ed25519Sign(key.secretKey, message);
      if (i % 3 === 1) signature[i % 64] = (signature[i % 64] as number) ^ 1;
      const publicKey = i % 7 === 2 ? crypto.randomBytes(32) : key.publicKey;
      return { publicKey, message, signature: i % 11 === 5 ? signature.subarray(0, 63) : signature };
    });
    const results = await Promise.all(cases.map((c) => pool.verify(c.publicKey, c.message, c.signature)));
    for (const [i, c] of cases.entries()) {
      assert.equal(results[i], crypto.ed25519Verify(c.publicKey, c.message, c.signature), `case ${i}`);
    }
    assert.ok(results.some((r) => r) && results.some((r) => !r));
  });

  it('signs as the provider does (Ed25519 is deterministic), with two keys in one turn', async () => {
    const keys = [0, 1].map(() => crypto.ed25519KeyPairFromSeed(crypto.randomBytes(32)));
    const messages = Array.from({ length: 120 }, (_, i) => crypto.randomBytes(i % 40));
    const signatures = await Promise.all(
      messages.map((m, i) => pool.sign((keys[i % 2] as (typeof keys)[0]).secretKey, m)),
    );
    for (const [i, m] of messages.entries()) {
      const key = keys[i % 2] as (typeof keys)[0];
      assert.deepEqual(signatures[i], crypto.ed25519Sign(key.secretKey, m), `message ${i}`);
    }
  });

  it('fails the batches of a worker that dies instead of leaving them waiting, and replaces it', async () => {
    const dying = new VerifyPool(1, new URL('./fixtures/dying-verify-worker.mjs', import.meta.url));
    try {
      const key = crypto.ed25519KeyPairFromSeed(crypto.randomBytes(32));
      const message = crypto.randomBytes(10);
      const signature = crypto.ed25519Sign(key.secretKey, message);
      await assert.rejects(dying.verify(key.publicKey, message, signature), /exited with code 3/);
      // The replacements (the same dying script here) take the next batches: none is left hanging,
      // and after five deaths in a row the pool stops respawning and fails at once.
      for (let i = 0; i < 4; i++) {
        await assert.rejects(dying.verify(key.publicKey, message, signature), /exited with code 3/);
      }
      await assert.rejects(dying.verify(key.publicKey, message, signature), /no verification worker/);
    } finally {
      await dying.close();
    }
  });
});
