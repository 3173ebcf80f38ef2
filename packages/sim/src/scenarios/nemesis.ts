import type { Machine, Rng } from '@postern/core';
import { type Distribution, exponential } from '../distributions.ts';
import type { World } from '../world.ts';

/**
 * The nemesis (Jepsen's name for the fault schedule) of phase 1: random partitions, churn, clogged
 * links and clock steps, drawn from the faults stream and applied through the world's verbs.
 * Each kind is off when its mean interval is 0.
 */
export interface NemesisOptions {
  /** Mean time between network changes: isolate a node, split in two halves, or heal. */
  readonly partitionMeanMs: number;
  /** The fraction of nodes that churn (crash and restart from their store). */
  readonly churnFraction: number;
  readonly churnUpMs: Distribution;
  readonly churnDownMs: Distribution;
  /** Mean time between clogs: a random link's delay inflated by up to clogMaxMs for a while. */
  readonly clogMeanMs: number;
  readonly clogMaxMs: number;
  /** Mean time between clock steps: a random node's clock jumps by up to ±clockStepMaxMs. */
  readonly clockStepMeanMs: number;
  readonly clockStepMaxMs: number;
}

export const calmNemesis: NemesisOptions = {
  partitionMeanMs: 0,
  churnFraction: 0,
  churnUpMs: exponential(5000),
  churnDownMs: exponential(2000),
  clogMeanMs: 0,
  clogMaxMs: 0,
  clockStepMeanMs: 0,
  clockStepMaxMs: 0,
};

/** Schedules the faults until `untilMs` (the runner also stops churn and heals at the end of phase 1). */
export function startNemesis<E, M extends Machine<E>>(
  world: World<E, M>,
  rng: Rng,
  o: NemesisOptions,
  untilMs: number,
): void {
  const n = world.nodeCount;
  if (n < 2) return; // nothing to split, clog or churn against
  repeat(world, rng, o.partitionMeanMs, untilMs, () => {
    const roll = rng.int(3);
    if (roll === 0) world.isolate(rng.int(n));
    else if (roll === 1) world.partition(randomHalf(rng, n));
    else world.heal();
  });
  repeat(world, rng, o.clogMeanMs, untilMs, () => {
    const a = rng.int(n);
    const b = (a + 1 + rng.int(n - 1)) % n;
    world.clog(a, b, rng.float() * o.clogMaxMs);
    world.after(rng.exponential(o.clogMeanMs), () => world.clog(a, b, 0));
  });
  repeat(world, rng, o.clockStepMeanMs, untilMs, () => {
    world.stepClock(rng.int(n), (rng.float() * 2 - 1) * o.clockStepMaxMs);
  });
  const churning = Math.round(o.churnFraction * n);
  if (churning > 0) {
    const nodes = rng.shuffle([...Array(n).keys()]).slice(0, churning);
    world.churn(nodes, o.churnUpMs, o.churnDownMs, rng.fork('churn'));
  }
}

/** Calls fn at exponentially spaced times until untilMs; one pending call at a time. */
function repeat<E, M extends Machine<E>>(
  world: World<E, M>,
  rng: Rng,
  meanMs: number,
  untilMs: number,
  fn: () => void,
): void {
  if (!(meanMs > 0)) return;
  const next = (): void => {
    const at = world.now + rng.exponential(meanMs);
    if (at < untilMs) {
      world.at(at, () => {
        fn();
        next();
      });
    }
  };
  next();
}

/** A random half of the nodes (at least one, never all). */
export function randomHalf(rng: Rng, n: number): number[] {
  return rng.shuffle([...Array(n).keys()]).slice(0, Math.max(1, n >> 1));
}
