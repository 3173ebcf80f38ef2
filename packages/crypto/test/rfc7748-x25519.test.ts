// RFC 7748: the X25519 vectors of §5.2 (scalar multiplication, and the iterated function) and the
// Diffie-Hellman example of §6.1, copied from the RFC text.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { unwrap } from '@postern/core';
import { bothProviders, hex, VectorCount } from './helpers.ts';

const scalarMult = [
  {
    scalar: 'a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4',
    u: 'e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c',
    output: 'c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552',
  },
  {
    scalar: '4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d',
    u: 'e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493',
    output: '95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957',
  },
];

// After 1,000,000 iterations the RFC gives 7c3911e0ab2586fd864497297e575e6f3bc601c0883c30df5f4dd2d24f2a5424;
// that one is left out: it takes minutes on the noble provider.
const iterated = [
  { iterations: 1, output: '422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079' },
  { iterations: 1000, output: '684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51' },
];

const diffieHellman = {
  alicePrivate: '77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a',
  alicePublic: '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a',
  bobPrivate: '5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb',
  bobPublic: 'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f',
  shared: '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742',
};

const vectorTotal = scalarMult.length + iterated.length + 1;

for (const provider of bothProviders()) {
  describe(`RFC 7748 X25519 on ${provider.name}`, () => {
    const count = new VectorCount();

    it('multiplies the §5.2 scalars and u-coordinates', () => {
      for (const v of scalarMult) {
        assert.deepEqual(unwrap(provider.x25519(hex(v.scalar), hex(v.u))), hex(v.output));
        count.add('scalar multiplication');
      }
    });

    it('iterates §5.2 from k = u = 9 (1 and 1,000 iterations)', () => {
      let k = hex('09'.padEnd(64, '0'));
      let u = k;
      let done = 0;
      for (const v of iterated) {
        for (; done < v.iterations; done++) [k, u] = [unwrap(provider.x25519(k, u)), k];
        assert.deepEqual(k, hex(v.output), `after ${v.iterations} iterations`);
        count.add('iterated');
      }
    });

    it('derives the §6.1 public keys and the same shared secret on both sides', () => {
      const d = diffieHellman;
      assert.deepEqual(provider.x25519PublicKey(hex(d.alicePrivate)), hex(d.alicePublic));
      assert.deepEqual(provider.x25519PublicKey(hex(d.bobPrivate)), hex(d.bobPublic));
      assert.deepEqual(unwrap(provider.x25519(hex(d.alicePrivate), hex(d.bobPublic))), hex(d.shared));
      assert.deepEqual(unwrap(provider.x25519(hex(d.bobPrivate), hex(d.alicePublic))), hex(d.shared));
      count.add('Diffie-Hellman');
    });

    it('ran every vector', () => {
      count.report('RFC 7748 §5.2 and §6.1', provider, vectorTotal);
    });
  });
}
