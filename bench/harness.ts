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
