import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { type Machine, type Millis, type Output, Rng } from '@postern/core';
import { type NodeContext, World, exponential } from '../src/index.ts';
import { fixedLatency, payload, probe, probeWorld, rerun, seedOr, sendAll, simIt } from './helpers.ts';

const FILE = 'faults.test.ts';
const seed = seedOr(41);

type CounterEvent = { type: 'persist'; key: string; value: Uint8Array };

/** Counts in memory; persists the count only when told to. */
class Counter implements Machine<CounterEvent> {
  count: number;
  readonly incarnation: number;
  readonly #outputs: Output<CounterEvent>[] = [];

  constructor(node: NodeContext) {
    this.count = node.store.get('count')?.[0] ?? 0;
    this.incarnation = node.incarnation;
  }

  increment(): void {
    this.count++;
  }

  save(): void {
    this.#outputs.push({
      type: 'event',
      event: { type: 'persist', key: 'count', value: new Uint8Array([this.count]) },
    });
  }

  handleReceive(): void {}
  handleTimeout(): void {}
  pollOutput(): Output<CounterEvent> {
    return this.#outputs.shift() ?? { type: 'timeout', at: undefined };
  }
}

const counterProgram = { create: (node: NodeContext) => new Counter(node), persist: (e: CounterEvent) => e };

describe('crashes and restarts', () => {
  simIt(
    'a crash loses unpersisted state; restart resumes from the persisted state only',
    seed,
    rerun(FILE, seed),
    (s) => {
      const world = new World({ seed: s, nodes: 1, program: counterProgram });
      world.act(0, (m) => {
        m.increment();
        m.increment();
        m.save();
      });
      world.act(0, (m) => m.increment()); // 3 in memory, 2 persisted
      assert.equal(world.machine(0)?.count, 3);
      assert.equal(world.crash(0), true);
      assert.equal(world.isUp(0), false);
      assert.equal(
        world.act(0, (m) => m.increment()),
        false,
      ); // a command to a down node does nothing
      assert.equal(world.crash(0), false);
      assert.equal(world.restart(0), true);
      assert.equal(world.machine(0)?.count, 2);
      assert.equal(world.machine(0)?.incarnation, 1);
      assert.deepEqual([...(world.store(0).get('count') ?? [])], [2]);
      assert.deepEqual([world.stats.crashes, world.stats.restarts], [1, 1]);
    },
  );

  simIt('a down node receives nothing and its wake-up is cancelled', seed, rerun(FILE, seed), (s) => {
    const world = probeWorld(s, 2, { network: fixedLatency(10) });
    world.act(1, (m) => m.wakeAt(50 as Millis));
    sendAll(world, 0, 1, [payload(1)]);
    world.crash(1);
    assert.equal(world.pendingEvents, 1); // the message in flight; the wake-up is gone
    world.run(100);
    assert.equal(world.stats.dropped['node-down'], 1);
    assert.equal(world.stats.wakeups, 0);
    world.restart(1);
    sendAll(world, 0, 1, [payload(2)]);
    world.run(200);
    assert.equal(probe(world, 1).received.length, 1);
  });

  simIt('nodes beyond `online` join later through restart', seed, rerun(FILE, seed), (s) => {
    const world = probeWorld(s, 4, { online: 2 });
    world.start();
    assert.deepEqual(
      [0, 1, 2, 3].map((i) => world.isUp(i)),
      [true, true, false, false],
    );
    world.restart(3);
    assert.equal(world.isUp(3), true);
    assert.equal(world.stats.restarts, 0); // a join, not a restart
    world.restartCrashed(); // node 2 never started: it stays out
    assert.equal(world.isUp(2), false);
  });

  simIt(
    'churn crashes and restarts nodes with up and down times drawn from distributions',
    seed,
    rerun(FILE, seed),
    (s) => {
      const world = probeWorld(s, 20);
      const upMeanMs = 2000;
      const downMeanMs = 1000;
      const nodes = [...Array(10).keys()];
      world.churn(nodes, exponential(upMeanMs), exponential(downMeanMs), Rng.fromSeed(s).fork('churn'));
      let downSamples = 0;
      world.every(100, () => {
        for (const i of nodes) if (!world.isUp(i)) downSamples++;
        return world.now < 300_000;
      });
      world.run(300_000);
      // ~300 s / 3 s per cycle × 10 nodes ≈ 1000 cycles; the fraction of time down ≈ 1/3.
      assert.ok(world.stats.crashes > 800 && world.stats.crashes < 1200, `${world.stats.crashes} crashes`);
      const downFraction = downSamples / (3000 * nodes.length);
      assert.ok(Math.abs(downFraction - 1 / 3) < 0.05, `down ${downFraction.toFixed(3)} of the time`);
      assert.ok(
        [10, 11, 19].every((i) => world.isUp(i)),
        'the others never go down',
      );
      world.stopChurn();
      world.restartCrashed();
      const crashes = world.stats.crashes;
      world.run(400_000);
      assert.equal(world.stats.crashes, crashes);
      assert.ok(nodes.every((i) => world.isUp(i)));
    },
  );
});
