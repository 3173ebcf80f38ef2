import { UsageError } from './assert.ts';

/**
 * A seeded, forkable pseudo-random generator (xoshiro128**, seeded through a 32-bit mixer).
 * Not for secrets: it is how the simulator and the protocol machines draw reproducible randomness.
 *
 * `fork(label)` derives an independent stream from this generator's *seed* and the label, without
 * consuming this stream: subsystems get their own streams (`rng.fork('kad')`), and adding draws in
 * one never shifts another. The same label always gives the same stream, so name forks distinctly
 * (`rng.fork(`node-${i}`)`).
 */
export class Rng {
  readonly #key: readonly [number, number, number, number];
  #s0: number;
  #s1: number;
  #s2: number;
  #s3: number;

  private constructor(key: readonly [number, number, number, number]) {
    this.#key = key;
    [this.#s0, this.#s1, this.#s2, this.#s3] = key;
    if ((this.#s0 | this.#s1 | this.#s2 | this.#s3) === 0) this.#s0 = 0x9e3779b9; // all-zero is a fixed point
  }

  /** A generator from a seed: a non-negative safe integer (as printed in SEED=…) or a string. */
  static fromSeed(seed: number | string): Rng {
    if (typeof seed === 'number' && !(Number.isSafeInteger(seed) && seed >= 0)) {
      throw new UsageError('RNG_BAD_SEED', `a seed is a non-negative safe integer, got ${seed}`);
    }
    const text = typeof seed === 'number' ? `n:${seed}` : `s:${seed}`;
    return new Rng(deriveKey([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], text));
  }

  fork(label: string): Rng {
    return new Rng(deriveKey(this.#key, label));
  }

  /** A uniform 32-bit unsigned integer. */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.#s1, 5), 7), 9) >>> 0;
    const t = this.#s1 << 9;
    this.#s2 ^= this.#s0;
    this.#s3 ^= this.#s1;
    this.#s1 ^= this.#s2;
    this.#s0 ^= this.#s3;
    this.#s2 ^= t;
    this.#s3 = rotl(this.#s3, 11);
    return result;
  }

  /** A uniform float in [0, 1) with 53 random bits. */
  float(): number {
    const high = this.nextU32() >>> 5; // 27 bits
    const low = this.nextU32() >>> 6; // 26 bits
    return (high * 67108864 + low) / 9007199254740992;
  }

  /** A uniform integer in [0, bound), without modulo bias; bound ≤ 2^53. */
  int(bound: number): number {
    if (!Number.isInteger(bound) || bound <= 0 || bound > 9007199254740992) {
      throw new UsageError('RNG_BAD_BOUND', `int(bound) needs an integer in [1, 2^53], got ${bound}`);
    }
    if (bound <= 0x100000000) {
      const limit = 0x100000000 - (0x100000000 % bound); // reject the top sliver that would bias
      for (;;) {
        const x = this.nextU32();
        if (x < limit) return x % bound;
      }
    }
    for (;;) {
      const x = Math.floor(this.float() * 9007199254740992);
      if (x < 9007199254740992 - (9007199254740992 % bound)) return x % bound;
    }
  }

  /** A uniform integer in [min, maxExclusive). */
  range(min: number, maxExclusive: number): number {
    return min + this.int(maxExclusive - min);
  }

  /** True with probability p. */
  bool(p = 0.5): boolean {
    return this.float() < p;
  }

  bytes(length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i += 4) {
      let x = this.nextU32();
      for (let j = i; j < Math.min(i + 4, length); j++) {
        out[j] = x & 0xff;
        x >>>= 8;
      }
    }
    return out;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new UsageError('RNG_EMPTY', 'pick() from an empty list');
    return items[this.int(items.length)] as T;
  }

  /** Fisher–Yates, in place; returns the same array. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [items[i], items[j]] = [items[j] as T, items[i] as T];
    }
    return items;
  }

  /** An exponentially distributed value with the given mean (e.g. times between events). */
  exponential(mean: number): number {
    return -mean * Math.log(1 - this.float());
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** lowbias32 (Wellons): a fast 32-bit mixer with full avalanche. */
function mix32(input: number): number {
  let x = input >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/**
 * A 128-bit key from a parent key and a label: four 32-bit lanes, each hashing the whole input from
 * its own starting value, so two inputs collide only if all four lanes do (about 2^-128 per pair,
 * against 2^-32 for one lane, which a simulation with ~77,000 forks would hit by even odds).
 */
function deriveKey(parent: readonly number[], label: string): [number, number, number, number] {
  const out: [number, number, number, number] = [0, 0, 0, 0];
  for (let lane = 0; lane < 4; lane++) {
    let h = mix32(Math.imul(lane + 1, 0x9e3779b9) ^ 0x5bd1e995);
    for (const word of parent) h = mix32(h ^ word);
    h = mix32(h ^ label.length);
    for (let i = 0; i < label.length; i++) h = mix32(h ^ label.charCodeAt(i));
    out[lane] = mix32(h + lane);
  }
  return out;
}
