import { type Rng, UsageError } from '@postern/core';

export interface ClockOptions {
  /** Each node's clock starts at an offset drawn uniformly in [0, maxOffsetMs). */
  readonly maxOffsetMs: number;
  /** Each node's clock runs fast or slow by a rate drawn uniformly in ±maxDriftPpm (parts per million). */
  readonly maxDriftPpm: number;
}

export const defaultClocks: ClockOptions = { maxOffsetMs: 0, maxDriftPpm: 0 };

/**
 * Per-node clocks: a node's `now` is virtual time transformed by its clock,
 * `local = baseLocal + rate × (t − baseGlobal)`, and never decreases (a monotonic clock: after a
 * backward step it holds still until the transformed time passes it). Steps and drift changes
 * re-base the line at the current instant. Structure of arrays: no object per node.
 */
export class Clocks {
  readonly #rate: Float64Array;
  readonly #baseGlobal: Float64Array;
  readonly #baseLocal: Float64Array;
  readonly #last: Float64Array;

  constructor(count: number, options: ClockOptions, rng: Rng) {
    if (!(options.maxOffsetMs >= 0 && options.maxDriftPpm >= 0 && options.maxDriftPpm < 1e6)) {
      throw new UsageError('SIM_BAD_CLOCKS', `clock options out of range: ${JSON.stringify(options)}`);
    }
    this.#rate = new Float64Array(count).fill(1);
    this.#baseGlobal = new Float64Array(count);
    this.#baseLocal = new Float64Array(count);
    this.#last = new Float64Array(count);
    if (options.maxOffsetMs === 0 && options.maxDriftPpm === 0) return;
    for (let i = 0; i < count; i++) {
      const offset = rng.float() * options.maxOffsetMs;
      this.#baseLocal[i] = offset;
      this.#last[i] = offset;
      this.#rate[i] = 1 + (rng.float() * 2 - 1) * options.maxDriftPpm * 1e-6;
    }
  }

  /** Node i's clock at virtual time t. */
  local(i: number, t: number): number {
    const x =
      (this.#baseLocal[i] as number) + (this.#rate[i] as number) * (t - (this.#baseGlobal[i] as number));
    const last = this.#last[i] as number;
    if (x <= last) return last;
    this.#last[i] = x;
    return x;
  }

  /**
   * Node i's clock when the wake-up it asked for at `wantLocal` fires at virtual time t: never
   * earlier than `wantLocal`, so rounding in the local → global → local round trip cannot make a
   * machine see its deadline not yet reached and ask again forever.
   */
  wake(i: number, t: number, wantLocal: number): number {
    const x = this.local(i, t);
    if (x >= wantLocal) return x;
    this.#last[i] = wantLocal;
    return wantLocal;
  }

  /** The virtual time at which node i's clock reads `localMs` (if it is not stepped meanwhile). */
  toGlobal(i: number, localMs: number): number {
    return (
      (this.#baseGlobal[i] as number) + (localMs - (this.#baseLocal[i] as number)) / (this.#rate[i] as number)
    );
  }

  /** Steps node i's clock by deltaMs at virtual time t (negative: backwards, held monotonic). */
  step(i: number, t: number, deltaMs: number): void {
    this.#rebase(i, t);
    this.#baseLocal[i] = (this.#baseLocal[i] as number) + deltaMs;
  }

  /** Sets node i's rate from virtual time t on. */
  setDrift(i: number, t: number, ppm: number): void {
    if (!(Math.abs(ppm) < 1e6)) throw new UsageError('SIM_BAD_CLOCKS', `drift ${ppm} ppm is out of range`);
    this.#rebase(i, t);
    this.#rate[i] = 1 + ppm * 1e-6;
  }

  driftPpm(i: number): number {
    return ((this.#rate[i] as number) - 1) * 1e6;
  }

  #rebase(i: number, t: number): void {
    const local =
      (this.#baseLocal[i] as number) + (this.#rate[i] as number) * (t - (this.#baseGlobal[i] as number));
    this.#baseGlobal[i] = t;
    this.#baseLocal[i] = local;
  }
}
