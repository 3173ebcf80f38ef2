import { performance } from 'node:perf_hooks';
import type { Millis } from '@postern/core';

/** The runtime's clocks: monotonic for timers, wall-clock for timestamps. Machines get both as inputs. */
export interface Clock {
  monotonic(): Millis;
  wall(): Millis;
}

export const systemClock: Clock = {
  monotonic: () => performance.now() as Millis,
  wall: () => Date.now() as Millis,
};
