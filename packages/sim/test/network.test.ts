import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { lognormal, pareto } from '../src/index.ts';
import {
  fixedLatency,
  indexOf,
  numbered,
  payload,
  probe,
  probeWorld,
  rerun,
  seedOr,
  sendAll,
  simIt,
} from './helpers.ts';

const FILE = 'network.test.ts';
const seed = seedOr(21);
const N = 10_000;

/** |observed − n·p| within 4 standard deviations of a binomial(n, p). */
function assertBinomial(observed: number, n: number, p: number, what: string): void {
  const sigma = Math.sqrt(n * p * (1 - p));
  assert.ok(
    Math.abs(observed - n * p) <= 4 * sigma,
    `${what}: ${observed} is not within 4σ of ${n * p} (σ ${sigma.toFixed(1)})`,
  );
}

describe('the network model', () => {
  simIt('loses messages at the configured rate', seed, rerun(FILE, seed), (s) => {
    const world = probeWorld(s, 2, { network: { loss: 0.1 } });
    sendAll(world, 0, 1, numbered(N));
    world.run(10_000);
    assertBinomial(world.stats.dropped.loss, N, 0.1, 'lost');
    assert.equal(probe(world, 1).received.length, N - world.stats.dropped.loss);
  });

  simIt('duplicates messages at the configured rate', seed, rerun(FILE, seed), (s) => {
    const world = probeWorld(s, 2, { network: { duplicate: 0.1 } });
    sendAll(world, 0, 1, numbered(N));
    world.run(10_000);
    const received = probe(world, 1).received;
    const copies = new Map<number, number>();
    for (const r of received) copies.set(indexOf(r.bytes), (copies.get(indexOf(r.bytes)) ?? 0) + 1);
    const twice = [...copies.values()].filter((c) => c === 2).length;
    assertBinomial(twice, N, 0.1, 'duplicated');
    assert.equal(copies.size, N);
    assert.equal(received.length, N + twice);
  });

  simIt('keeps send order without jitter, and reorders when configured', seed, rerun(FILE, seed), (s) => {
    const inversions = (reorder: number): { inversions: number; delayed: number } => {
      const world = probeWorld(s, 2, { network: { ...fixedLatency(20), reorder, reorderMaxMs: 50 } });
      for (let i = 0; i < 2000; i++) world.at(i, () => sendAll(world, 0, 1, [payload(i)]));
      world.run(10_000);
      const order = probe(world, 1).received.map((r) => indexOf(r.bytes));
      assert.equal(order.length, 2000);
      const late = probe(world, 1).received.filter((r) => r.now - indexOf(r.bytes) > 20).length;
      return {
        inversions: order.filter((x, k) => k > 0 && x < (order[k - 1] as number)).length,
        delayed: late,
      };
    };
    assert.equal(inversions(0).inversions, 0);
    const reordered = inversions(0.2);
    assert.ok(reordered.inversions > 100, `${reordered.inversions} inversions`);
    assertBinomial(reordered.delayed, 2000, 0.2, 'held back');
  });

  simIt(
    'queues messages behind a limited uplink, and drops what would wait too long',
    seed,
    rerun(FILE, seed),
    (s) => {
      const world = probeWorld(s, 2, {
        network: { ...fixedLatency(10), egressBytesPerSec: 1000, egressQueueMaxMs: 250 },
      });
      sendAll(world, 0, 1, numbered(5, 100)); // 100 ms each on the wire
      world.run(10_000);
      // Serialisation ends at 100, 200, 300; then 10 ms of latency. The 4th would wait 300 ms > 250.
      assert.deepEqual(
        probe(world, 1).received.map((r) => r.now),
        [110, 210, 310],
      );
      assert.equal(world.stats.dropped['egress-full'], 2);
      world.setEgress(0, 10_000); // a per-node override: 10 ms per message
      world.at(20_000, () => sendAll(world, 0, 1, numbered(2, 100)));
      world.run(30_000);
      assert.deepEqual(
        probe(world, 1)
          .received.slice(3)
          .map((r) => r.now),
        [20_020, 20_030],
      );
    },
  );

  simIt('draws latency as the link minimum plus a capped heavy tail', seed, rerun(FILE, seed), (s) => {
    const network = { minLatencyMs: 5, nodeLatencyMaxMs: 20, latencyTail: pareto(5, 1.2), tailMaxMs: 400 };
    const world = probeWorld(s, 2, { network });
    sendAll(world, 0, 1, numbered(N));
    world.run(10_000);
    const floor = world.linkMinMs(0, 1);
    assert.ok(floor >= 5 && floor < 45);
    const delays = probe(world, 1).received.map((r) => r.now - floor);
    assert.ok(delays.every((d) => d >= 0 && d <= 400 + 1e-9));
    const sorted = [...delays].sort((a, b) => a - b);
    const median = sorted[N >> 1] as number;
    const p999 = sorted[Math.floor(N * 0.999)] as number;
    assert.ok(p999 > 30 * median, `heavy tail: p99.9 ${p999.toFixed(1)} vs median ${median.toFixed(1)}`);
    assert.ok(
      delays.some((d) => d === 400),
      'the cap is reached',
    );
  });

  simIt('gives each link its own minimum latency', seed, rerun(FILE, seed), (s) => {
    const world = probeWorld(s, 10, { network: { latencyTail: lognormal(5, 1) } });
    const minimums = new Set([1, 2, 3, 4, 5].map((b) => world.linkMinMs(0, b)));
    assert.equal(minimums.size, 5);
  });

  simIt('inflates a clogged link, both ways, until unclogged', seed, rerun(FILE, seed), (s) => {
    const world = probeWorld(s, 3, { network: fixedLatency(10) });
    world.clog(0, 1, 300);
    sendAll(world, 0, 1, numbered(1));
    sendAll(world, 1, 0, numbered(1));
    sendAll(world, 0, 2, numbered(1));
    world.run(1000);
    assert.equal(probe(world, 1).received[0]?.now, 310);
    assert.equal(probe(world, 0).received[0]?.now, 310);
    assert.equal(probe(world, 2).received[0]?.now, 10);
    world.clog(0, 1, 0);
    sendAll(world, 0, 1, numbered(1));
    world.run(2000);
    assert.equal(probe(world, 1).received[1]?.now, 1010);
  });
});
