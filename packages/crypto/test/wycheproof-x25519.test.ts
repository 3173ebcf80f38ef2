// Wycheproof (C2SP) X25519: every test of every group. Valid results must come out exactly. For the
// "acceptable" ones our rule is the same whatever the flag: the result follows RFC 7748 (twist points
// and non-canonical u are computed as the RFC says: flags Twist, NonCanonicalPublic, SmallPublicKey,
// SpecialPublicKey, EdgeCase*), except that an all-zero shared secret (flags LowOrderPublic,
// ZeroSharedSecret) is refused with CRYPTO_X25519_LOW_ORDER, as the provider interface requires.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toHex } from '@postern/core';
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
  readonly curve: string;
  readonly tests: readonly (WycheproofTest & {
    readonly public: string;
    readonly private: string;
    readonly shared: string;
  })[];
}

const file = readVectorJson<WycheproofFile<Group>>('wycheproof/x25519_test.json');

const allZero = '00'.repeat(32);

for (const provider of bothProviders()) {
  describe(`Wycheproof X25519 on ${provider.name}`, () => {
    it('computes every shared secret exactly and refuses exactly the all-zero ones', () => {
      const count = new VectorCount();
      const wrong: string[] = [];
      for (const group of file.testGroups) {
        assert.equal(group.curve, 'curve25519');
        for (const test of group.tests) {
          const result = provider.x25519(hex(test.private), hex(test.public));
          const got = result.ok ? toHex(result.value) : result.error.code;
          const expected =
            test.shared === allZero || test.result === 'invalid' ? 'CRYPTO_X25519_LOW_ORDER' : test.shared;
          if (got !== expected) wrong.push(`${label(test)}: ${got}`);
          count.add(test.shared === allZero ? `${test.result} all-zero (refused)` : test.result);
        }
      }
      assert.deepEqual(wrong, []);
      count.report('Wycheproof x25519_test.json', provider, file.numberOfTests);
    });
  });
}
