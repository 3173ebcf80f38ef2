import { type Rng, UsageError } from '@postern/core';

/**
 * Durations drawn from the simulator's seeded streams: latency tails, churn (time online, time
 * offline), workload gaps. All in milliseconds.
 */
export type Distribution =
  | { readonly kind: 'fixed'; readonly ms: number }
  | { readonly kind: 'uniform'; readonly minMs: number; readonly maxMs: number }
  | { readonly kind: 'exponential'; readonly meanMs: number }
  /** Lomax (Pareto II, starting at 0): heavy-tailed; mean scaleMs / (shape − 1) when shape > 1. */
  | { readonly kind: 'pareto'; readonly scaleMs: number; readonly shape: number }
  /** exp(N(ln medianMs, sigma²)): the usual model of internet delays. */
  | { readonly kind: 'lognormal'; readonly medianMs: number; readonly sigma: number };

export function draw(d: Distribution, rng: Rng): number {
  switch (d.kind) {
    case 'fixed':
      return d.ms;
    case 'uniform':
      return d.minMs + rng.float() * (d.maxMs - d.minMs);
    case 'exponential':
      return rng.exponential(d.meanMs);
    case 'pareto':
      return d.scaleMs * (Math.pow(1 - rng.float(), -1 / d.shape) - 1);
    case 'lognormal':
      return d.medianMs * Math.exp(d.sigma * standardNormal(rng));
  }
}

/** Box–Muller: one standard normal value from two uniforms. */
function standardNormal(rng: Rng): number {
  const radius = Math.sqrt(-2 * Math.log(1 - rng.float()));
  return radius * Math.cos(2 * Math.PI * rng.float());
}

/** Throws a UsageError naming `what` when a parameter is negative, not finite, or out of order. */
export function checkDistribution(d: Distribution, what: string): void {
  const values: number[] =
    d.kind === 'fixed'
      ? [d.ms]
      : d.kind === 'uniform'
        ? [d.minMs, d.maxMs, d.maxMs - d.minMs]
        : d.kind === 'exponential'
          ? [d.meanMs]
          : d.kind === 'pareto'
            ? [d.scaleMs, d.shape]
            : [d.medianMs, d.sigma];
  if (!values.every((v) => Number.isFinite(v) && v >= 0) || (d.kind === 'pareto' && d.shape === 0)) {
    throw new UsageError('SIM_BAD_DISTRIBUTION', `${what}: bad ${d.kind} distribution ${JSON.stringify(d)}`);
  }
}

export const fixed = (ms: number): Distribution => ({ kind: 'fixed', ms });
export const uniform = (minMs: number, maxMs: number): Distribution => ({ kind: 'uniform', minMs, maxMs });
export const exponential = (meanMs: number): Distribution => ({ kind: 'exponential', meanMs });
export const pareto = (scaleMs: number, shape: number): Distribution => ({ kind: 'pareto', scaleMs, shape });
export const lognormal = (medianMs: number, sigma: number): Distribution => ({
  kind: 'lognormal',
  medianMs,
  sigma,
});
