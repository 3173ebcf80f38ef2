import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { type ReliableScenarioOptions, reproduceCommand, scenarios } from '../src/index.ts';
import { seedOr, simIt } from './helpers.ts';

const seed = seedOr(81);
const swarm = scenarios.get('swarm');
assert.ok(swarm);

describe('swarm mode', () => {
  simIt(
    'draws node counts and fault rates from the seed',
    seed,
    `SIM_SEED=${seed} npm test -- packages/sim/test/swarm.test.ts`,
    (s) => {
      const drawn = [0, 1, 2, 3, 4, 5].map((k) => swarm.run({ seed: s + k }));
      const nodes = new Set(drawn.map((r) => r.nodes));
      const loss = new Set(drawn.map((r) => r.options.network?.loss));
      const partitions = new Set(
        drawn.map((r) => (r.options as ReliableScenarioOptions).nemesis.partitionMeanMs),
      );
      assert.ok(nodes.size >= 4, `node counts ${[...nodes].join(', ')}`);
      assert.ok(loss.size >= 3 && partitions.size >= 3);
      for (const report of drawn) {
        assert.deepEqual(report.failures, [], reproduceCommand(report));
      }
      const again = swarm.run({ seed: s });
      assert.deepEqual(again.options, drawn[0]?.options);
    },
  );

  simIt(
    '--nodes overrides the node count without shifting the other draws',
    seed,
    reproduceCommand({ scenario: 'swarm', seed, nodes: 5 }),
    (s) => {
      const drawn = swarm.run({ seed: s });
      const overridden = swarm.run({ seed: s, nodes: 5 });
      assert.equal(overridden.nodes, 5);
      assert.deepEqual({ ...overridden.options, nodes: drawn.nodes }, drawn.options);
    },
  );
});
