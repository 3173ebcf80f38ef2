// Wycheproof (C2SP) HMAC-SHA-256: every test of every group, including the groups whose tag is
// truncated to 128 bits: the MAC is cut to the group's tagSize and compared with constantTimeEqual.
// Valid: the tags match. Invalid (flag ModifiedTag): they do not.
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
  readonly tagSize: number;
  readonly tests: readonly (WycheproofTest & {
    readonly key: string;
    readonly msg: string;
    readonly tag: string;
  })[];
}

const file = readVectorJson<WycheproofFile<Group>>('wycheproof/hmac_sha256_test.json');

for (const provider of bothProviders()) {
  describe(`Wycheproof HMAC-SHA-256 on ${provider.name}`, () => {
    it('matches every valid tag and no modified one', () => {
      const count = new VectorCount();
      const wrong: string[] = [];
      for (const group of file.testGroups) {
        for (const test of group.tests) {
          const mac = provider.hmac('sha256', hex(test.key), hex(test.msg)).subarray(0, group.tagSize / 8);
          const matches = provider.constantTimeEqual(mac, hex(test.tag));
          if (matches !== (test.result === 'valid')) {
            wrong.push(`${label(test)}: tags match = ${matches}`);
          }
          count.add(`${test.result} (${group.tagSize}-bit tag)`);
        }
      }
      assert.deepEqual(wrong, []);
      count.report('Wycheproof hmac_sha256_test.json', provider, file.numberOfTests);
    });
  });
}
