import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { type Machine, type Millis, type NodeId, type Output, bytesEqual } from '@postern/core';
import { World } from '../src/index.ts';
import { fixedLatency, probe, probeWorld, rerun, seedOr, sendAll, simIt } from './helpers.ts';

const FILE = 'world.test.ts';
const seed = seedOr(11);

/** A machine that re-arms its timer on every input, and counts its wake-ups. */
class Rearming implements Machine<never> {
  at: number | undefined = 1000;
  woke = 0;
  handleReceive(): void {}
  handleTimeout(now: Millis): void {
    if (this.at === undefined || now < this.at) return;
    this.woke++;
    this.at = undefined;
  }
  pollOutput(): Output<never> {
    return { type: 'timeout', at: this.at as Millis | undefined };
  }
}

describe('World', () => {
  simIt('derives node ids from the seed', seed, rerun(FILE, seed), (s) => {
    const ids = (x: number) => [0, 1, 2].map((i) => probeWorld(x, 3).id(i));
    assert.ok(ids(s).every((id, i) => bytesEqual(id, ids(s)[i] as NodeId)));
    assert.ok(!bytesEqual(ids(s)[0] as NodeId, ids(s + 1)[0] as NodeId));
    const world = probeWorld(s, 3);
    assert.equal(world.indexOf(world.id(2).slice()), 2); // an equal copy finds the node
    assert.equal(world.indexOf(new Uint8Array(32)), -1);
  });

  simIt('keeps at most one pending wake-up per node, moved in place', seed, rerun(FILE, seed), (s) => {
    const world = new World({ seed: s, nodes: 1, program: { create: () => new Rearming() } });
    world.start();
    const machine = world.machine(0) as Rearming;
    for (let i = 0; i < 1000; i++) {
      machine.at = 1000 + i;
      world.act(0, () => {});
    }
    assert.equal(world.pendingEvents, 1);
    machine.at = 500;
    world.act(0, () => {}); // earlier: the one wake-up moves up
    world.run(600);
    assert.equal(machine.woke, 1);
    assert.equal(world.stats.wakeups, 1);
  });

  simIt('delivers to the destination with the sender as `from`', seed, rerun(FILE, seed), (s) => {
    const world = probeWorld(s, 3, { network: fixedLatency(10) });
    world.start();
    sendAll(world, 0, 2, [new Uint8Array([7])]);
    world.run(100);
    const [got] = probe(world, 2).received;
    assert.ok(got !== undefined && bytesEqual(got.from, world.id(0)));
    assert.equal(got.now, 10);
    assert.equal(probe(world, 1).received.length, 0);
  });

  simIt(
    'copies transmitted bytes, so reusing a buffer cannot change a message in flight',
    seed,
    rerun(FILE, seed),
    (s) => {
      const world = probeWorld(s, 2, { network: fixedLatency(10) });
      const buffer = new Uint8Array([1, 2, 3]);
      world.start();
      sendAll(world, 0, 1, [buffer]);
      buffer.fill(9);
      world.run(100);
      assert.deepEqual([...(probe(world, 1).received[0]?.bytes ?? [])], [1, 2, 3]);
    },
  );

  simIt('counts a message to an unknown id as a drop', seed, rerun(FILE, seed), (s) => {
    const world = probeWorld(s, 2);
    world.act(0, (m) => m.send(new Uint8Array(32).fill(1) as NodeId, new Uint8Array(1)));
    assert.equal(world.stats.dropped['unknown-node'], 1);
  });

  simIt('refuses a machine that never ends a drain', seed, rerun(FILE, seed), (s) => {
    const endless: Machine<never> = {
      handleReceive: () => {},
      handleTimeout: () => {},
      pollOutput: () => ({ type: 'transmit', to: new Uint8Array(32) as NodeId, bytes: new Uint8Array(0) }),
    };
    const world = new World({ seed: s, nodes: 1, program: { create: () => endless } });
    assert.throws(() => world.start(), /ends a drain within/);
  });

  simIt(
    'runs scheduled calls in time order, and `every` until it returns false',
    seed,
    rerun(FILE, seed),
    (s) => {
      const world = probeWorld(s, 1);
      const log: string[] = [];
      world.at(30, () => log.push(`at ${world.now}`));
      world.after(10, () => log.push(`after ${world.now}`));
      let ticks = 0;
      world.every(25, () => {
        log.push(`every ${world.now}`);
        return ++ticks < 3;
      });
      world.run(1000);
      assert.deepEqual(log, ['after 10', 'every 25', 'at 30', 'every 50', 'every 75']);
      assert.equal(world.now, 1000);
    },
  );
});
