// A small benchmark harness: each case runs in timed rounds; the figure is the median of the rounds'
// rates, so one noisy round on a shared machine does not move it.
import { performance } from 'node:perf_hooks';

export interface Measurement {
  readonly name: string;
  readonly opsPerSec: number;
  readonly rounds: number[];
}

export interface MeasureOptions {
  readonly rounds?: number;
  readonly roundMs?: number;
}

export function measure(name: string, fn: () => unknown, options: MeasureOptions = {}): Measurement {
  const rounds = options.rounds ?? 7;
  const roundMs = options.roundMs ?? 300;
  let batch = calibrate(fn, roundMs);
  const rates: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const start = performance.now();
    for (let i = 0; i < batch; i++) fn();
    const elapsed = performance.now() - start;
    rates.push((batch * 1000) / elapsed);
    batch = Math.max(1, Math.round((batch * roundMs) / Math.max(elapsed, 1)));
  }
  return { name, opsPerSec: median(rates), rounds: rates };
}

/** Warms up (JIT) and finds a batch size that takes about `roundMs`. */
function calibrate(fn: () => unknown, roundMs: number): number {
  let batch = 1;
  for (let i = 0; i < 30; i++) {
    const start = performance.now();
    for (let j = 0; j < batch; j++) fn();
    const elapsed = performance.now() - start;
    if (elapsed >= roundMs / 4) return Math.max(1, Math.round((batch * roundMs) / elapsed));
    batch *= 2;
  }
  return batch;
}

export interface PairedMeasurement {
  readonly a: Measurement;
  readonly b: Measurement;
  /** Median over rounds of (rate of b ÷ rate of a) within the same round pair. */
  readonly ratio: number;
}

/**
 * Measures two cases in alternating rounds (a, b, a, b, …) so that a change in machine load hits both
 * alike, and reports the median of the per-round ratios: on a shared machine a ratio measured this
 * way is far steadier than one taken from two separate measurements.
 */
export function measurePaired(
  a: { name: string; fn: () => unknown },
  b: { name: string; fn: () => unknown },
  options: MeasureOptions = {},
): PairedMeasurement {
  const rounds = options.rounds ?? 7;
  const roundMs = options.roundMs ?? 300;
  const batchA = calibrate(a.fn, roundMs);
  const batchB = calibrate(b.fn, roundMs);
  const ratesA: number[] = [];
  const ratesB: number[] = [];
  const ratios: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const rateA = timeBatch(a.fn, batchA);
    const rateB = timeBatch(b.fn, batchB);
    ratesA.push(rateA);
    ratesB.push(rateB);
    ratios.push(rateB / rateA);
  }
  return {
    a: { name: a.name, opsPerSec: median(ratesA), rounds: ratesA },
    b: { name: b.name, opsPerSec: median(ratesB), rounds: ratesB },
    ratio: median(ratios),
  };
}

function timeBatch(fn: () => unknown, batch: number): number {
  const start = performance.now();
  for (let i = 0; i < batch; i++) fn();
  return (batch * 1000) / (performance.now() - start);
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export function formatRate(opsPerSec: number): string {
  return opsPerSec >= 1e6
    ? `${(opsPerSec / 1e6).toFixed(2)} M/s`
    : opsPerSec >= 1e3
      ? `${(opsPerSec / 1e3).toFixed(1)} k/s`
      : `${opsPerSec.toFixed(0)} /s`;
}
