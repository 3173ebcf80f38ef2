import assert from 'node:assert/strict';
import { describe } from 'node:test';
import type { Millis } from '@postern/core';
import { probe, probeWorld, rerun, seedOr, simIt } from './helpers.ts';

const FILE = 'clock.test.ts';
const seed = seedOr(51);

describe('per-node clocks', () => {
  simIt(
    'drift makes a node’s clock run fast or slow, and its timers with it',
    seed,
    rerun(FILE, seed),
    (s) => {
      const world = probeWorld(s, 2);
      world.start();
      world.setDrift(0, 1000); // +0.1 %
      world.setDrift(1, -1000);
      world.run(1_000_000);
      assert.ok(Math.abs(world.localNow(0) - 1_001_000) < 1e-6);
      assert.ok(Math.abs(world.localNow(1) - 999_000) < 1e-6);
      // A timer for local 1,101,100 on the fast clock fires at virtual 1,100,000.
      const wokeAt: number[] = [];
      world.observe({ event: (node, e, now) => e.type === 'woke' && node === 0 && wokeAt.push(now) });
      world.act(0, (m) => m.wakeAt(1_101_100 as Millis));
      world.run(2_000_000);
      assert.equal(wokeAt.length, 1);
      assert.ok(Math.abs((wokeAt[0] as number) - 1_100_000) < 1e-6);
      assert.ok((probe(world, 0).wakes[0] as number) >= 1_101_100, 'the machine sees its deadline reached');
    },
  );

  simIt('draws each node’s offset and drift from the seed', seed, rerun(FILE, seed), (s) => {
    const world = probeWorld(s, 50, { clocks: { maxOffsetMs: 10_000, maxDriftPpm: 200 } });
    world.start();
    const drifts = [...Array(50).keys()].map((i) => world.driftPpm(i));
    assert.ok(drifts.every((d) => Math.abs(d) <= 200));
    assert.ok(new Set(drifts).size === 50);
    const offsets = [...Array(50).keys()].map((i) => world.localNow(i));
    assert.ok(offsets.every((o) => o >= 0 && o < 10_000) && new Set(offsets).size === 50);
  });

  simIt(
    'a forward step moves the clock and brings its pending wake-up closer',
    seed,
    rerun(FILE, seed),
    (s) => {
      const world = probeWorld(s, 1);
      const wokeAt: number[] = [];
      world.observe({ event: (_node, e, now) => e.type === 'woke' && wokeAt.push(now) });
      world.act(0, (m) => m.wakeAt(10_000 as Millis));
      world.run(1000);
      world.stepClock(0, 5000);
      assert.equal(world.localNow(0), 6000);
      world.run(20_000);
      assert.deepEqual(wokeAt, [5000]);
    },
  );

  simIt(
    'a backward step holds the clock still until it catches up (it never decreases)',
    seed,
    rerun(FILE, seed),
    (s) => {
      const world = probeWorld(s, 1);
      world.run(1000);
      assert.equal(world.localNow(0), 1000);
      world.stepClock(0, -500);
      world.run(1200);
      assert.equal(world.localNow(0), 1000);
      world.run(2000);
      assert.equal(world.localNow(0), 1500);
    },
  );
});
