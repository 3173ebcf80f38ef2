import { type Rng, UsageError } from '@postern/core';
import type { Invariant, Liveness } from '../checkers.ts';
import { exponential, lognormal, pareto } from '../distributions.ts';
import {
  type ReliableBugs,
  type ReliableEvent,
  type ReliableMachine,
  reliableProgram,
} from '../examples/reliable.ts';
import {
  type RunnableScenario,
  type ScenarioContext,
  type ScenarioOptions,
  defineScenario,
} from '../scenario.ts';
import { type NemesisOptions, calmNemesis, startNemesis } from './nemesis.ts';

/**
 * Scenarios for the reliable-delivery example: random messages between random nodes while the
 * nemesis partitions, clogs, churns and steps clocks, on a lossy, duplicating, reordering network;
 * then heal, and every acknowledged message must be delivered exactly once.
 */
export interface ReliableScenarioOptions extends ScenarioOptions {
  readonly messages: number;
  readonly payloadBytes: number;
  readonly retryMs: number;
  readonly bugs: ReliableBugs;
  readonly nemesis: NemesisOptions;
}

type Ctx = ScenarioContext<ReliableEvent, ReliableMachine, ReliableScenarioOptions>;

const invariants: Invariant<Ctx>[] = [
  {
    name: 'no message is delivered twice',
    check: ({ queue }) =>
      queue.duplicatedSoFar === 0 ? undefined : `${queue.duplicatedSoFar} ids delivered twice`,
  },
  {
    name: 'no message is delivered that was not sent',
    check: ({ queue }) =>
      queue.unexpectedSoFar === 0 ? undefined : `${queue.unexpectedSoFar} unexpected ids`,
  },
];

const liveness: Liveness<Ctx> = {
  name: 'every acknowledged message is delivered',
  check: ({ queue }) => (queue.pending === 0 ? undefined : `${queue.pending} not delivered yet`),
};

/** The workload: `messages` sends at random times during phase 1, the last ones just before healing. */
function workload(ctx: Ctx): void {
  const { world, options, queue, workloadRng: rng } = ctx;
  const n = world.nodeCount;
  world.observe({
    event: (_node, event) => {
      if (event.type === 'delivered') queue.deliver(event.id);
    },
  });
  for (let id = 0; id < options.messages; id++) {
    const from = rng.int(n);
    const to = (from + 1 + rng.int(n - 1)) % n;
    const payload = rng.bytes(options.payloadBytes);
    world.at(rng.float() * options.faultMs, () => {
      world.act(from, (machine, now) => {
        if (machine.send(id, world.id(to), payload, now)) queue.enqueue(id);
      });
    });
  }
  startNemesis(world, ctx.faultRng, options.nemesis, options.faultMs);
}

function nodesOf(request: { readonly nodes?: number }, drawn: number): number {
  const nodes = request.nodes ?? drawn;
  if (!(Number.isSafeInteger(nodes) && nodes >= 2)) {
    throw new UsageError('SIM_BAD_NODES', `this scenario needs at least 2 nodes, got ${nodes}`);
  }
  return nodes;
}

/** Fixed options: every kind of fault at once, moderately. */
function standardOptions(bugs: ReliableBugs) {
  return (_rng: Rng, request: { readonly nodes?: number }): ReliableScenarioOptions => ({
    nodes: nodesOf(request, 16),
    faultMs: 20_000,
    convergeWithinMs: 30_000,
    checkEveryMs: 500,
    messages: 400,
    payloadBytes: 32,
    retryMs: 200,
    bugs,
    network: {
      loss: 0.1,
      duplicate: 0.05,
      reorder: 0.1,
      latencyTail: lognormal(5, 1),
      egressBytesPerSec: 1_000_000,
    },
    clocks: { maxOffsetMs: 1000, maxDriftPpm: 100 },
    nemesis: {
      partitionMeanMs: 3000,
      churnFraction: 0.25,
      churnUpMs: exponential(5000),
      churnDownMs: exponential(2000),
      clogMeanMs: 4000,
      clogMaxMs: 500,
      clockStepMeanMs: 5000,
      clockStepMaxMs: 200,
    },
  });
}

/** Swarm: node count, workload, fault kinds and rates all drawn from the seed. */
function swarmOptions(rng: Rng, request: { readonly nodes?: number }): ReliableScenarioOptions {
  const nodes = nodesOf(request, 3 + rng.int(62)); // drawn first, so --nodes shifts no other draw
  const maybe = (p: number, value: number): number => (rng.bool(p) ? value : 0);
  return {
    nodes,
    faultMs: 5_000 + rng.int(35_000),
    convergeWithinMs: 60_000,
    checkEveryMs: 500,
    messages: 20 + rng.int(600),
    payloadBytes: rng.int(200),
    retryMs: 50 + rng.int(500),
    bugs: {},
    network: {
      minLatencyMs: rng.float() * 20,
      nodeLatencyMaxMs: rng.float() * 100,
      latencyTail: rng.bool()
        ? pareto(1 + rng.float() * 20, 1.1 + rng.float() * 2)
        : lognormal(5, rng.float() * 1.5),
      loss: maybe(0.7, rng.float() * 0.3),
      duplicate: maybe(0.5, rng.float() * 0.2),
      reorder: maybe(0.5, rng.float() * 0.3),
      egressBytesPerSec: rng.bool(0.3) ? 10_000 + rng.int(1_000_000) : Infinity,
    },
    clocks: { maxOffsetMs: rng.float() * 10_000, maxDriftPpm: maybe(0.5, rng.float() * 500) },
    nemesis: {
      ...calmNemesis,
      partitionMeanMs: maybe(0.6, 500 + rng.int(8000)),
      churnFraction: maybe(0.5, rng.float() * 0.5),
      churnUpMs: exponential(1000 + rng.int(10_000)),
      churnDownMs: exponential(100 + rng.int(5000)),
      clogMeanMs: maybe(0.4, 500 + rng.int(5000)),
      clogMaxMs: rng.float() * 2000,
      clockStepMeanMs: maybe(0.3, 1000 + rng.int(10_000)),
      clockStepMaxMs: rng.float() * 1000,
    },
  };
}

function reliableScenario(
  name: string,
  summary: string,
  options: (rng: Rng, request: { readonly nodes?: number }) => ReliableScenarioOptions,
): RunnableScenario {
  return defineScenario({
    name,
    summary,
    options,
    program: (o) => reliableProgram({ retryMs: o.retryMs, bugs: o.bugs }),
    workload,
    invariants,
    liveness: [liveness],
  });
}

export const reliable = reliableScenario(
  'reliable',
  'reliable delivery under loss, duplication, reordering, partitions, clogs, churn and clock steps',
  standardOptions({}),
);

export const reliableSwarm = reliableScenario(
  'swarm',
  'reliable delivery with node count, workload, fault kinds and rates drawn from the seed',
  swarmOptions,
);

export const brokenNoRetransmit = reliableScenario(
  'broken-no-retransmit',
  'a deliberately broken sender that never retransmits: the checker must report lost messages',
  standardOptions({ noRetransmit: true }),
);

export const brokenNoDedupe = reliableScenario(
  'broken-no-dedupe',
  'a deliberately broken receiver without dedupe: the checker must report duplicated messages',
  standardOptions({ noDedupe: true }),
);

export const brokenNoPersist = reliableScenario(
  'broken-no-persist',
  'a deliberately broken node that persists nothing: crashes lose acknowledged messages',
  standardOptions({ noPersist: true }),
);
