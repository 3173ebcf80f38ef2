import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type RunReport, TotalQueue, reproduceCommand, scenarios } from '../src/index.ts';
import { seedOr, simIt } from './helpers.ts';

const seed = seedOr(71);

function run(name: string, s: number): RunReport {
  const scenario = scenarios.get(name);
  assert.ok(scenario, name);
  return scenario.run({ seed: s });
}

describe('TotalQueue', () => {
  it('reports lost, duplicated, unexpected and recovered messages', () => {
    const queue = new TotalQueue();
    for (const id of [1, 2, 3, 4]) queue.enqueue(id);
    queue.enqueue(5, 'info');
    queue.enqueue(6, 'info');
    assert.equal(queue.pending, 4);
    for (const id of [1, 2, 2, 2, 5, 99]) queue.deliver(id);
    assert.equal(queue.pending, 2);
    const r = queue.result();
    assert.deepEqual(
      { ...r, examples: undefined },
      {
        ...{ acknowledged: 4, indeterminate: 2, ok: 2, lost: 2, duplicated: 1, extraDeliveries: 2 },
        ...{ unexpected: 1, recovered: 1, reported: 0, examples: undefined },
      },
    );
    assert.deepEqual(r.examples, { lost: [3, 4], duplicated: [2], unexpected: [99] });
  });

  it('counts a message reported undeliverable as reported, not lost, unless it is delivered after all', () => {
    const queue = new TotalQueue();
    for (const id of [1, 2, 3]) queue.enqueue(id);
    queue.reportUndeliverable(1);
    queue.reportUndeliverable(2);
    queue.deliver(2);
    assert.equal(queue.unaccounted, 1);
    const r = queue.result();
    assert.deepEqual([r.ok, r.reported, r.lost], [1, 1, 1]);
  });

  it('upgrades an indeterminate enqueue that is acknowledged later, and refuses a second ack', () => {
    const queue = new TotalQueue();
    queue.enqueue('a', 'info');
    queue.enqueue('a');
    assert.equal(queue.pending, 1);
    assert.throws(() => queue.enqueue('a'), { code: 'SIM_DUPLICATE_ENQUEUE' });
  });
});

describe('the total-queue checker on the example protocol', () => {
  const reproduce = (name: string, s: number) => reproduceCommand({ scenario: name, seed: s, nodes: 16 });

  simIt(
    'reports the lost messages of a sender that never retransmits',
    seed,
    reproduce('broken-no-retransmit', seed),
    (s) => {
      const report = run('broken-no-retransmit', s);
      assert.equal(report.ok, false);
      assert.ok(report.queue.lost > 0);
      assert.ok(report.failures.some((f) => f.includes('acknowledged messages lost')));
    },
  );

  simIt(
    'reports the duplicates of a receiver without dedupe',
    seed,
    reproduce('broken-no-dedupe', seed),
    (s) => {
      const report = run('broken-no-dedupe', s);
      assert.equal(report.ok, false);
      assert.ok(report.queue.duplicated > 0);
      assert.ok(report.invariants.some((i) => i.violations > 0));
    },
  );

  simIt(
    'reports what crashes cost a node that persists nothing',
    seed,
    reproduce('broken-no-persist', seed),
    (s) => {
      const report = run('broken-no-persist', s);
      assert.equal(report.ok, false);
      assert.ok(report.queue.lost + report.queue.duplicated > 0);
    },
  );

  for (const s of [seed, seed + 1, seed + 2]) {
    simIt(
      'passes the correct protocol under loss, duplication, partitions and churn, then heal',
      s,
      reproduce('reliable', s),
      () => {
        const report = run('reliable', s);
        assert.deepEqual(report.failures, []);
        assert.ok(report.queue.acknowledged > 300 && report.queue.ok === report.queue.acknowledged);
        assert.ok(
          report.stats.dropped.loss > 0 && report.stats.duplicated > 0 && report.stats.dropped.partition > 0,
        );
        assert.ok(report.stats.crashes > 0 && report.stats.restarts > 0);
        assert.equal(report.liveness.converged, true);
      },
    );
  }
});
