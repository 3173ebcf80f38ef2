// Wycheproof (C2SP) HKDF-SHA-256: every test of every group. Valid: the exact output key material.
// Invalid (flag SizeTooLarge, more than 255 × 32 bytes asked): the call throws CRYPTO_BAD_LENGTH,
// since the length is the caller's choice, never network input.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toHex, UsageError } from '@postern/core';
import { readVectorJson } from '@postern/testkit';
import {
  bothProviders,
  hex,
  label,
  VectorCount,
  type WycheproofFile,
  type WycheproofTest,
} from './helpers.ts';

interface Group {
  readonly tests: readonly (WycheproofTest & {
    readonly ikm: string;
    readonly salt: string;
    readonly info: string;
    readonly size: number;
    readonly okm: string;
  })[];
}

const file = readVectorJson<WycheproofFile<Group>>('wycheproof/hkdf_sha256_test.json');

for (const provider of bothProviders()) {
  describe(`Wycheproof HKDF-SHA-256 on ${provider.name}`, () => {
    it('derives every valid output exactly and refuses every size over the limit', () => {
      const count = new VectorCount();
      const wrong: string[] = [];
      for (const group of file.testGroups) {
        for (const test of group.tests) {
          let got: string;
          try {
            got = toHex(provider.hkdf('sha256', hex(test.ikm), hex(test.salt), hex(test.info), test.size));
          } catch (e) {
            got = e instanceof UsageError ? e.code : String(e);
          }
          const expected = test.result === 'invalid' ? 'CRYPTO_BAD_LENGTH' : test.okm;
          if (got !== expected) wrong.push(`${label(test)}: ${got}`);
          count.add(test.result);
        }
      }
      assert.deepEqual(wrong, []);
      count.report('Wycheproof hkdf_sha256_test.json', provider, file.numberOfTests);
    });
  });
}
