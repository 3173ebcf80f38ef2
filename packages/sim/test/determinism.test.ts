import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { World, pingerProgram, reproduceCommand, scenarios } from '../src/index.ts';
import { seedOr, simIt } from './helpers.ts';

const seed = seedOr(91);

function pingHash(s: number): string {
  const world = new World({
    seed: s,
    nodes: 200,
    program: pingerProgram(100),
    network: { loss: 0.05, duplicate: 0.05, reorder: 0.1 },
  });
  world.run(5000);
  return world.traceHash();
}

describe('determinism', () => {
  for (const name of ['reliable', 'swarm']) {
    simIt(
      `${name}: the same seed gives the same trace, other seeds other traces`,
      seed,
      reproduceCommand({ scenario: name, seed }),
      (s) => {
        const scenario = scenarios.get(name);
        assert.ok(scenario);
        const first = scenario.run({ seed: s });
        const second = scenario.run({ seed: s });
        assert.equal(second.traceHash, first.traceHash);
        assert.equal(second.events, first.events);
        assert.deepEqual(second.stats, first.stats);
        const others = [1, 2, 3].map((k) => scenario.run({ seed: s + k }).traceHash);
        assert.equal(new Set([first.traceHash, ...others]).size, 4);
      },
    );
  }

  simIt(
    'a world of pingers hashes the same twice and differently for another seed',
    seed,
    `SIM_SEED=${seed} npm test -- packages/sim/test/determinism.test.ts`,
    (s) => {
      assert.equal(pingHash(s), pingHash(s));
      assert.notEqual(pingHash(s), pingHash(s + 1));
    },
  );
});
