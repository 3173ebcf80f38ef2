// The Wycheproof AEAD runner shared by the ChaCha20-Poly1305 and XChaCha20-Poly1305 vector tests.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { concatBytes, toHex, UsageError } from '@postern/core';
import { readVectorJson } from '@postern/testkit';
import type { CryptoProvider } from '../src/index.ts';
import { hex, label, VectorCount, type WycheproofFile, type WycheproofTest } from './helpers.ts';

interface Group {
  readonly ivSize: number;
  readonly keySize: number;
  readonly tagSize: number;
  readonly tests: readonly (WycheproofTest & {
    readonly key: string;
    readonly iv: string;
    readonly aad: string;
    readonly msg: string;
    readonly ct: string;
    readonly tag: string;
  })[];
}

type Test = Group['tests'][number];

export interface Aead {
  readonly nonceBytes: number;
  /** The in-place calls: named in the test and the printed count. */
  readonly inPlace?: boolean;
  encrypt(
    provider: CryptoProvider,
    key: Uint8Array,
    nonce: Uint8Array,
    plaintext: Uint8Array,
    ad: Uint8Array,
  ): Uint8Array;
  decrypt(
    provider: CryptoProvider,
    key: Uint8Array,
    nonce: Uint8Array,
    ciphertext: Uint8Array,
    ad: Uint8Array,
  ): ReturnType<CryptoProvider['chacha20poly1305Decrypt']>;
}

/**
 * Runs every test of every group. Valid: encryption gives ct ‖ tag exactly and decryption gives the
 * message back. Invalid: decryption fails. A group whose key or nonce size the API does not take
 * (flag InvalidNonceSize) must be refused up front: encrypt and decrypt throw CRYPTO_BAD_LENGTH.
 */
export function itRunsWycheproofAead(fileName: string, aead: Aead, provider: CryptoProvider): void {
  const file = readVectorJson<WycheproofFile<Group>>(`wycheproof/${fileName}`);
  const how = aead.inPlace ? ', in place' : '';
  it(`passes every test of ${fileName}${how}`, () => {
    const count = new VectorCount();
    const wrong: string[] = [];
    for (const group of file.testGroups) {
      assert.equal(group.tagSize, 128);
      const supported = group.keySize === 256 && group.ivSize === aead.nonceBytes * 8;
      for (const test of group.tests) {
        const problem = supported ? checkSupported(aead, provider, test) : checkRefused(aead, provider, test);
        if (problem !== undefined) wrong.push(`${label(test)}: ${problem}`);
        count.add(supported ? test.result : `${test.result} unsupported size (refused)`);
      }
    }
    assert.deepEqual(wrong, []);
    count.report(`Wycheproof ${fileName}${how}`, provider, file.numberOfTests);
  });
}

function checkSupported(aead: Aead, provider: CryptoProvider, test: Test): string | undefined {
  const [key, nonce, ad, msg] = [hex(test.key), hex(test.iv), hex(test.aad), hex(test.msg)];
  const sealed = concatBytes(hex(test.ct), hex(test.tag));
  const opened = aead.decrypt(provider, key, nonce, sealed, ad);
  if (test.result === 'invalid') return opened.ok ? 'decryption succeeded' : undefined;
  const encrypted = aead.encrypt(provider, key, nonce, msg, ad);
  if (toHex(encrypted) !== toHex(sealed)) return `encryption gave ${toHex(encrypted)}`;
  if (!opened.ok) return `decryption failed: ${opened.error.code}`;
  return toHex(opened.value) === test.msg ? undefined : 'decryption gave other bytes';
}

function checkRefused(aead: Aead, provider: CryptoProvider, test: Test): string | undefined {
  const [key, nonce, ad, msg] = [hex(test.key), hex(test.iv), hex(test.aad), hex(test.msg)];
  const sealed = concatBytes(hex(test.ct), hex(test.tag));
  if (test.result !== 'invalid') return 'a size the API refuses is marked valid';
  if (!throwsBadLength(() => aead.encrypt(provider, key, nonce, msg, ad))) return 'encrypt did not throw';
  if (!throwsBadLength(() => aead.decrypt(provider, key, nonce, sealed, ad))) return 'decrypt did not throw';
  return undefined;
}

function throwsBadLength(f: () => unknown): boolean {
  try {
    f();
    return false;
  } catch (e) {
    return e instanceof UsageError && e.code === 'CRYPTO_BAD_LENGTH';
  }
}
