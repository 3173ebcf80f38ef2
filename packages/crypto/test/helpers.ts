// What the crypto tests share: both providers, hex literals, a seeded RandomSource, the Wycheproof
// file shapes and a counter that makes every vector test prove how many vectors it ran.
import assert from 'node:assert/strict';
import { sha256 } from '@noble/hashes/sha2.js';
import fc from 'fast-check';
import { fromHex, unwrap, UsageError } from '@postern/core';
import {
  createNobleProvider,
  createSodiumProvider,
  type CryptoProvider,
  type RandomSource,
} from '../src/index.ts';

export function bothProviders(options: Parameters<typeof createSodiumProvider>[0] = {}): CryptoProvider[] {
  return [createSodiumProvider(options), createNobleProvider(options)];
}

export function hex(text: string): Uint8Array {
  return unwrap(fromHex(text.replace(/\s+/g, '')));
}

/** A reproducible RandomSource: SHA-256(seed ‖ block counter), cut to the requested length. */
export function seededRandom(seed: number): RandomSource {
  let block = 0;
  return (length) => {
    const out = new Uint8Array(length);
    for (let offset = 0; offset < length; offset += 32) {
      const input = new Uint8Array(8);
      new DataView(input.buffer).setUint32(0, seed);
      new DataView(input.buffer).setUint32(4, block++);
      out.set(sha256(input).subarray(0, Math.min(32, length - offset)), offset);
    }
    return out;
  };
}

/** Byte strings with lengths spread over the whole range (fast-check's default favours short ones). */
export function arbitraryBytes(minLength: number, maxLength: number): fc.Arbitrary<Uint8Array> {
  return fc.uint8Array({ minLength, maxLength, size: 'max' });
}

export function assertUsageError(f: () => unknown, code: string): void {
  assert.throws(f, (e: unknown) => e instanceof UsageError && e.code === code);
}

export interface WycheproofTest {
  readonly tcId: number;
  readonly comment: string;
  readonly flags: readonly string[];
  readonly result: 'valid' | 'invalid' | 'acceptable';
}

/** How a failing Wycheproof test is named in an assertion message. */
export function label(test: WycheproofTest): string {
  return `tcId ${test.tcId} (${test.result}, ${test.flags.join(' ')})`;
}

export interface WycheproofFile<G> {
  readonly algorithm: string;
  readonly numberOfTests: number;
  readonly testGroups: readonly G[];
}

/** Counts vectors by result; `report` checks that every vector of the file ran and prints the tally. */
export class VectorCount {
  readonly #byResult = new Map<string, number>();
  #total = 0;

  add(result: string): void {
    this.#byResult.set(result, (this.#byResult.get(result) ?? 0) + 1);
    this.#total++;
  }

  report(source: string, provider: CryptoProvider, expectedTotal: number): string {
    const parts = [...this.#byResult].map(([result, n]) => `${n} ${result}`).join(', ');
    const line = `${source} on ${provider.name}: ${this.#total} vectors ran (${parts}) of ${expectedTotal} in the source`;
    console.log(line);
    assert.ok(this.#total > 0, `${source}: no vectors ran`);
    assert.equal(this.#total, expectedTotal, `${source}: not every vector ran`);
    return line;
  }
}
