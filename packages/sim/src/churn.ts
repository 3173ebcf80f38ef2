import type { Rng } from '@postern/core';
import { type Distribution, checkDistribution, draw } from './distributions.ts';

export interface ChurnOptions {
  /** How long a node stays up before it crashes. */
  readonly upMs: Distribution;
  /** How long it stays down before it restarts from its store. */
  readonly downMs: Distribution;
}

/** The world verbs churn uses. */
export interface ChurnWorld {
  after(ms: number, fn: () => void): void;
  crash(index: number): boolean;
  restart(index: number): boolean;
}

/**
 * Churn: each node alternates up and down, for durations drawn from the two distributions, until
 * stop(). It drives the world through the same verbs a scenario uses (crash, restart), with one
 * pending call per node. A node crashed by someone else restarts at the end of its next down time.
 */
export class Churn {
  readonly #world: ChurnWorld;
  readonly #options: ChurnOptions;
  readonly #rng: Rng;
  #active = true;

  constructor(world: ChurnWorld, nodes: readonly number[], options: ChurnOptions, rng: Rng) {
    checkDistribution(options.upMs, 'churn upMs');
    checkDistribution(options.downMs, 'churn downMs');
    this.#world = world;
    this.#options = options;
    this.#rng = rng;
    for (const node of nodes) this.#up(node);
  }

  stop(): void {
    this.#active = false;
  }

  #up(node: number): void {
    this.#world.after(draw(this.#options.upMs, this.#rng), () => {
      if (!this.#active) return;
      this.#world.crash(node);
      this.#down(node);
    });
  }

  #down(node: number): void {
    this.#world.after(draw(this.#options.downMs, this.#rng), () => {
      if (!this.#active) return;
      this.#world.restart(node);
      this.#up(node);
    });
  }
}
