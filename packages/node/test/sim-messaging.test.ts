// The messaging scenarios in the deterministic simulator, small and fixed seeds: every acknowledged
// message is delivered exactly once (or reported expired to its sender), and senders learn of each
// delivery. `npm run sim -- messaging --seeds N` runs more, larger.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { messagingDirectScenario, messagingScenario } from '../src/index.ts';

const NODES = 12;

for (const [scenario, seeds] of [
  [messagingScenario, [1, 2]],
  [messagingDirectScenario, [1]],
] as const) {
  for (const seed of seeds) {
    describe(`${scenario.name} in the simulator (SEED ${seed}, ${NODES} users)`, () => {
      it('delivers every acknowledged message once, and every sender learns of it', () => {
        const report = scenario.run({ seed, nodes: NODES });
        const reproduce = `npm run sim -- ${scenario.name} --seed ${seed} --nodes ${NODES}`;
        assert.deepEqual(report.failures, [], reproduce);
        const q = report.queue;
        assert.deepEqual([q.lost, q.duplicated, q.unexpected], [0, 0, 0], reproduce);
        assert.ok(q.acknowledged > 20, `${q.acknowledged} messages were sent`);
        assert.ok(report.stats.crashes > 10, `${report.stats.crashes} crashes happened`);
        console.log(`SEED=${seed} ${scenario.name}: ${JSON.stringify(report.figures)}`);
      });
    });
  }
}
