import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng } from '../src/index.ts';

function draw(rng: Rng, n: number): number[] {
  return Array.from({ length: n }, () => rng.nextU32());
}

describe('Rng', () => {
  it('gives the same stream for the same seed', () => {
    assert.deepEqual(draw(Rng.fromSeed(42), 100), draw(Rng.fromSeed(42), 100));
    assert.deepEqual(draw(Rng.fromSeed('alice'), 100), draw(Rng.fromSeed('alice'), 100));
  });

  it('gives different streams for different seeds', () => {
    assert.notDeepEqual(draw(Rng.fromSeed(1), 8), draw(Rng.fromSeed(2), 8));
    assert.notDeepEqual(draw(Rng.fromSeed(0), 8), draw(Rng.fromSeed('0'), 8));
  });

  it('keeps its stream stable across releases (pinned values for seed 1)', () => {
    // A change here changes every recorded simulation seed: make it only on purpose.
    assert.deepEqual(draw(Rng.fromSeed(1), 4), PINNED_SEED_1);
  });

  it('forks a stream that depends on the seed and the label, not on draws made before', () => {
    const a = Rng.fromSeed(7);
    const b = Rng.fromSeed(7);
    draw(b, 1000);
    assert.deepEqual(draw(a.fork('kad'), 50), draw(b.fork('kad'), 50));
    assert.notDeepEqual(draw(a.fork('kad'), 8), draw(a.fork('sim'), 8));
    assert.notDeepEqual(draw(a.fork('kad'), 8), draw(Rng.fromSeed(8).fork('kad'), 8));
    assert.notDeepEqual(draw(a.fork('kad'), 8), draw(a.fork('kad').fork('kad'), 8));
  });

  it('gives 200,000 forks and 200,000 seeds 200,000 different streams', () => {
    // A 32-bit fork key (the first version) gave 12 colliding forks here (node-86699 and node-182190
    // among them) and 8 colliding seeds; with 128 bits none should collide.
    const root = Rng.fromSeed(1);
    const forks = new Set<string>();
    const seeds = new Set<string>();
    for (let i = 0; i < 200_000; i++) {
      const f = root.fork(`node-${i}`);
      forks.add(`${f.nextU32()}:${f.nextU32()}`);
      const s = Rng.fromSeed(i);
      seeds.add(`${s.nextU32()}:${s.nextU32()}`);
    }
    assert.equal(forks.size, 200_000);
    assert.equal(seeds.size, 200_000);
  });

  it('draws integers in range with no value favoured (chi-square, 10 bins)', () => {
    const rng = Rng.fromSeed(3);
    const counts = new Array<number>(10).fill(0);
    const n = 100_000;
    for (let i = 0; i < n; i++) {
      const x = rng.int(10);
      assert.ok(x >= 0 && x < 10);
      counts[x] = (counts[x] as number) + 1;
    }
    const expected = n / 10;
    const chi2 = counts.reduce((sum, c) => sum + (c - expected) ** 2 / expected, 0);
    assert.ok(chi2 < 27.88, `chi-square ${chi2} below the p = 0.001 critical value for 9 degrees of freedom`);
  });

  it('draws floats in [0, 1) and integers up to 2^53', () => {
    const rng = Rng.fromSeed(4);
    for (let i = 0; i < 10_000; i++) {
      const f = rng.float();
      assert.ok(f >= 0 && f < 1);
      const big = rng.int(2 ** 53);
      assert.ok(Number.isSafeInteger(big) && big >= 0);
      const r = rng.range(-5, 5);
      assert.ok(r >= -5 && r < 5);
    }
  });

  it('fills bytes of any length from the stream', () => {
    const bytes = Rng.fromSeed(5).bytes(37);
    assert.equal(bytes.length, 37);
    assert.deepEqual(Rng.fromSeed(5).bytes(37), bytes);
    assert.ok(bytes.some((b) => b !== 0));
  });

  it('shuffles into a permutation and picks members', () => {
    const rng = Rng.fromSeed(6);
    const items = Array.from({ length: 50 }, (_, i) => i);
    const shuffled = rng.shuffle([...items]);
    assert.deepEqual(
      [...shuffled].sort((x, y) => x - y),
      items,
    );
    assert.notDeepEqual(shuffled, items);
    assert.ok(items.includes(rng.pick(items)));
  });

  it('draws exponential values with the requested mean', () => {
    const rng = Rng.fromSeed(9);
    let sum = 0;
    const n = 50_000;
    for (let i = 0; i < n; i++) sum += rng.exponential(100);
    assert.ok(Math.abs(sum / n - 100) < 3, `mean ${sum / n}`);
  });

  it('rejects a seed or a bound it cannot honour', () => {
    assert.throws(() => Rng.fromSeed(-1), { code: 'RNG_BAD_SEED' });
    assert.throws(() => Rng.fromSeed(1.5), { code: 'RNG_BAD_SEED' });
    assert.throws(() => Rng.fromSeed(1).int(0), { code: 'RNG_BAD_BOUND' });
    assert.throws(() => Rng.fromSeed(1).pick([]), { code: 'RNG_EMPTY' });
  });
});

const PINNED_SEED_1 = [4270257419, 551816375, 2055866008, 117827760];
