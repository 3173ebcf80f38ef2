// Wycheproof (C2SP) Ed25519 verification: every test of every group. Valid signatures must verify
// and invalid ones must not; the file has no "acceptable" results, and one would be allowed either way.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
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
  readonly publicKey: { readonly pk: string };
  readonly tests: readonly (WycheproofTest & { readonly msg: string; readonly sig: string })[];
}

const file = readVectorJson<WycheproofFile<Group>>('wycheproof/ed25519_test.json');

for (const provider of bothProviders()) {
  describe(`Wycheproof Ed25519 on ${provider.name}`, () => {
    it('accepts every valid signature and rejects every invalid one', () => {
      const count = new VectorCount();
      const wrong: string[] = [];
      for (const group of file.testGroups) {
        const publicKey = hex(group.publicKey.pk);
        for (const test of group.tests) {
          const verified = provider.ed25519Verify(publicKey, hex(test.msg), hex(test.sig));
          if (test.result !== 'acceptable' && verified !== (test.result === 'valid')) {
            wrong.push(`${label(test)}: verify gave ${verified}`);
          }
          count.add(test.result);
        }
      }
      assert.deepEqual(wrong, []);
      count.report('Wycheproof ed25519_test.json', provider, file.numberOfTests);
    });
  });
}
