import assert from 'node:assert/strict';
import { describe } from 'node:test';
import {
  type ProbeEvent,
  type Probe,
  fixedLatency,
  payload,
  probe,
  probeWorld,
  rerun,
  seedOr,
  sendAll,
  simIt,
} from './helpers.ts';
import type { World } from '../src/index.ts';

const FILE = 'partition.test.ts';
const seed = seedOr(31);

/** Every node sends to every other node every 10 ms; returns the deliveries (from, to, time) seen. */
function chatter(
  world: World<ProbeEvent, Probe>,
  untilMs: number,
): { from: number; to: number; at: number }[] {
  const seen: { from: number; to: number; at: number }[] = [];
  world.observe({ deliver: (from, to, _bytes, now) => seen.push({ from, to, at: now }) });
  world.every(10, () => {
    for (let a = 0; a < world.nodeCount; a++) {
      for (let b = 0; b < world.nodeCount; b++)
        if (a !== b && world.isUp(a)) sendAll(world, a, b, [payload(a)]);
    }
    return world.now < untilMs;
  });
  return seen;
}

describe('partitions', () => {
  simIt('split in two: no message crosses until heal, then both ways again', seed, rerun(FILE, seed), (s) => {
    const world = probeWorld(s, 6, { network: { loss: 0.05 } });
    const seen = chatter(world, 3000);
    const left = new Set([0, 2, 4]);
    const crosses = (d: { from: number; to: number }) => left.has(d.from) !== left.has(d.to);
    world.at(1000, () => world.partition([...left]));
    world.at(2000, () => world.heal());
    world.run(3500);
    // Sent before the split may arrive after it only if the split did not stop it in flight: it must.
    assert.equal(seen.filter((d) => d.at >= 1000 && d.at < 2000 && crosses(d)).length, 0);
    assert.ok(
      seen.filter((d) => d.at >= 1000 && d.at < 2000 && !crosses(d)).length > 0,
      'each side still talks',
    );
    assert.ok(seen.filter((d) => d.at < 1000 && crosses(d)).length > 0);
    assert.ok(seen.filter((d) => d.at >= 2100 && crosses(d)).length > 0, 'heal restores');
    assert.ok(world.stats.dropped.partition > 0);
  });

  simIt('isolate(n) cuts one node off from all others, and only it', seed, rerun(FILE, seed), (s) => {
    const world = probeWorld(s, 5);
    const seen = chatter(world, 2000);
    world.at(500, () => world.isolate(3));
    world.at(1500, () => world.heal());
    world.run(2500);
    const during = seen.filter((d) => d.at >= 500 && d.at < 1500);
    assert.equal(during.filter((d) => d.from === 3 || d.to === 3).length, 0);
    assert.ok(during.filter((d) => d.from !== 3 && d.to !== 3).length > 0);
    assert.ok(seen.filter((d) => d.at >= 1600 && (d.from === 3 || d.to === 3)).length > 0);
  });

  simIt(
    'drops a message in flight when a partition starts before it arrives',
    seed,
    rerun(FILE, seed),
    (s) => {
      const world = probeWorld(s, 2, { network: fixedLatency(100) });
      sendAll(world, 0, 1, [payload(1)]);
      world.at(50, () => world.partition([0]));
      world.run(1000);
      assert.equal(probe(world, 1).received.length, 0);
      assert.equal(world.stats.dropped.partition, 1);
    },
  );

  simIt('partition(a, b) with three sides, and cut(a, b) on one link', seed, rerun(FILE, seed), (s) => {
    const world = probeWorld(s, 6);
    const seen = chatter(world, 1000);
    world.partition([0, 1], [2, 3]); // 4 and 5: the rest, a third side
    world.run(500);
    const group = (i: number) => (i < 2 ? 'a' : i < 4 ? 'b' : 'rest');
    assert.ok(seen.length > 0 && seen.every((d) => group(d.from) === group(d.to)));
    world.heal();
    world.cut(0, 1);
    seen.length = 0;
    world.run(1000);
    assert.ok(seen.some((d) => d.from === 0) && seen.some((d) => d.to === 1));
    assert.equal(seen.filter((d) => (d.from === 0 && d.to === 1) || (d.from === 1 && d.to === 0)).length, 0);
  });
});
