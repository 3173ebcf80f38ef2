import { UsageError } from '@postern/core';
import { type Pinger, pingerProgram } from '../examples/pinger.ts';
import {
  type RunnableScenario,
  type ScenarioContext,
  type ScenarioOptions,
  defineScenario,
} from '../scenario.ts';

/**
 * Load: many nodes ping random peers every second over a slightly lossy network, with no other
 * fault. It measures the simulator on large worlds (`--nodes 100000`); its one liveness property is
 * that every node has had an answer.
 */
export interface PingScenarioOptions extends ScenarioOptions {
  readonly periodMs: number;
}

type Ctx = ScenarioContext<never, Pinger, PingScenarioOptions>;

export const ping: RunnableScenario = defineScenario({
  name: 'ping',
  summary: 'load: every node pings a random peer every second (use --nodes to scale)',
  options: (_rng, request): PingScenarioOptions => {
    const nodes = request.nodes ?? 1000;
    if (!(Number.isSafeInteger(nodes) && nodes >= 2)) {
      throw new UsageError('SIM_BAD_NODES', `this scenario needs at least 2 nodes, got ${nodes}`);
    }
    return {
      nodes,
      faultMs: 10_000,
      convergeWithinMs: 10_000,
      checkEveryMs: 1000,
      periodMs: 1000,
      network: { loss: 0.01 },
      tolerate: { lost: true },
    };
  },
  program: (o) => pingerProgram(o.periodMs),
  workload: () => {},
  invariants: [],
  liveness: [
    {
      name: 'every node has had a pong',
      check: ({ world }: Ctx) => {
        let silent = 0;
        for (let i = 0; i < world.nodeCount; i++) if ((world.machine(i)?.pongs ?? 0) === 0) silent++;
        return silent === 0 ? undefined : `${silent} nodes without a pong`;
      },
    },
  ],
});
