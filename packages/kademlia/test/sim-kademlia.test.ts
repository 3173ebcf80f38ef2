// Kademlia machines in the deterministic simulator (packages/sim), 1,000 nodes, fixed seeds: every
// node bootstraps through node 0, records are stored from random nodes and read from others.
// Without faults every read finds the newest version; the `npm run sim -- kademlia` scenario passes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng, toHex, utf8 } from '@postern/core';
import { createSodiumProvider } from '@postern/crypto';
import { World, exponential } from '@postern/sim';
import {
  type Contact,
  DEFAULT_KADEMLIA_LIMITS,
  type KademliaEvent,
  SIM_WALL_EPOCH_MS,
  type SignedRecord,
  kademliaProgram,
  kademliaScenario,
  recordKey,
  signRecord,
  simContact,
} from '../src/index.ts';

const HOUR = 3_600_000;
const program = kademliaProgram();

for (const seed of [1, 2]) {
  describe(`kademlia in the simulator, 1,000 nodes (SEED ${seed})`, () => {
    it('finds every stored record, newest version, from random readers', () => {
      const world = new World({ seed, nodes: 1000, program });
      const found: Extract<KademliaEvent, { type: 'value-found' }>[] = [];
      const stored: Extract<KademliaEvent, { type: 'stored' }>[] = [];
      world.observe({
        event: (_node, event) => {
          if (event.type === 'value-found') found.push(event);
          if (event.type === 'stored') stored.push(event);
        },
      });
      world.start();
      const bootstrap: Contact = simContact(world.id(0));
      for (let i = 1; i < world.nodeCount; i++) {
        world.at(i * 20, () => world.act(i, (m, now) => void m.bootstrap([bootstrap], now)));
      }
      world.run(30_000);
      const crypto = createSodiumProvider();
      const records = Array.from({ length: 40 }, (_, r) => {
        const owner = crypto.ed25519KeyPairFromSeed(new Uint8Array(32).fill(r + 1));
        const sign = (seq: number) =>
          signRecord(
            crypto,
            owner.secretKey,
            {
              salt: utf8('identity'),
              seq,
              value: utf8(`record ${r} v${seq}`),
              expiresAtMs: SIM_WALL_EPOCH_MS + 10 * HOUR,
            },
            DEFAULT_KADEMLIA_LIMITS,
          );
        return { key: recordKey(crypto, owner.publicKey, utf8('identity')), versions: [sign(1), sign(2)] };
      });
      const rng = Rng.fromSeed(`workload ${seed}`);
      // Version 1 from one node, then version 2 from another.
      records.forEach((r, i) => {
        for (const [v, at] of [
          [0, 31_000],
          [1, 41_000],
        ] as const) {
          const writer = rng.int(world.nodeCount);
          world.at(at + i * 50, () =>
            world.act(writer, (m, now) => void m.storeRecord(r.versions[v] as SignedRecord, now)),
          );
        }
      });
      world.run(60_000);
      records.forEach((r, i) => {
        const reader = rng.int(world.nodeCount);
        world.at(61_000 + i * 50, () => world.act(reader, (m, now) => void m.findValue(r.key, now)));
      });
      world.run(90_000);
      assert.equal(stored.length, 80);
      assert.ok(
        stored.every((s) => s.stored >= 15),
        `stores kept by ${Math.min(...stored.map((s) => s.stored))} at worst`,
      );
      assert.equal(found.length, records.length);
      for (const f of found)
        assert.equal(f.record?.seq, 2, `record ${toHex(f.key).slice(0, 8)} read as ${f.record?.seq}`);
      console.log(
        `SEED ${seed}: 1,000 nodes, 80 stores (kept by ${Math.min(...stored.map((s) => s.stored))}–20), 40 reads: all found seq 2`,
      );
    });
  });
}

describe('kademlia in the simulator under churn, 1,000 nodes (SEED 3)', () => {
  it('keeps records findable through 30 % churn by republishing them', () => {
    const seed = 3;
    // A short republish period, so that minutes of simulated churn see several rounds.
    const limits = { republishIntervalMs: 60_000 };
    const world = new World({ seed, nodes: 1000, program: kademliaProgram(limits) });
    const found: Extract<KademliaEvent, { type: 'value-found' }>[] = [];
    world.observe({ event: (_node, event) => void (event.type === 'value-found' && found.push(event)) });
    world.start();
    const bootstrap: Contact = simContact(world.id(0));
    for (let i = 1; i < world.nodeCount; i++) {
      world.at(i * 20, () => world.act(i, (m, now) => void m.bootstrap([bootstrap], now)));
    }
    const crypto = createSodiumProvider();
    const keys = Array.from({ length: 40 }, (_, r) => {
      const owner = crypto.ed25519KeyPairFromSeed(new Uint8Array(32).fill(100 + r));
      const record = signRecord(
        crypto,
        owner.secretKey,
        {
          salt: utf8('identity'),
          seq: 1,
          value: utf8(`record ${r}`),
          expiresAtMs: SIM_WALL_EPOCH_MS + 10 * HOUR,
        },
        DEFAULT_KADEMLIA_LIMITS,
      );
      return { key: recordKey(crypto, owner.publicKey, utf8('identity')), record };
    });
    const rng = Rng.fromSeed(`workload ${seed}`);
    keys.forEach((k, i) => {
      const writer = 1 + rng.int(world.nodeCount - 1);
      world.at(31_000 + i * 50, () => world.act(writer, (m, now) => void m.storeRecord(k.record, now)));
    });
    world.run(40_000);
    // 30 % of the nodes (never node 0, the bootstrap) go up and down for three minutes.
    const churning = Array.from({ length: world.nodeCount - 1 }, (_, i) => i + 1).filter(
      () => rng.float() < 0.3,
    );
    world.churn(churning, exponential(60_000), exponential(30_000), rng.fork('churn'));
    world.run(220_000);
    world.stopChurn();
    world.restartCrashed();
    world.run(340_000); // two republish rounds after the churn stops
    const readers = Array.from({ length: world.nodeCount }, (_, i) => i).filter((i) => world.isUp(i));
    keys.forEach((k, i) => {
      const reader = readers[rng.int(readers.length)] as number;
      world.at(341_000 + i * 50, () => world.act(reader, (m, now) => void m.findValue(k.key, now)));
    });
    world.run(360_000);
    assert.equal(found.length, keys.length);
    const missing = found.filter((f) => f.record === undefined).length;
    assert.equal(missing, 0, `${missing} of ${keys.length} records not found after churn`);
    console.log(
      `SEED ${seed}: 1,000 nodes, ${churning.length} churning for 3 min, 40 of 40 records found after republish`,
    );
  });
});

describe('the kademlia scenario of npm run sim (SEED 1, 100 nodes)', () => {
  it('reads every record back after churn and loss, and never returns one that was not stored', () => {
    const report = kademliaScenario.run({ seed: 1, nodes: 100 });
    assert.deepEqual(report.failures, []);
    console.log(
      `SEED 1: kademlia scenario, 100 nodes, ${report.stats.delivered} messages, converged ${(report.liveness.afterHealMs ?? 0) / 1000} s after the heal, trace ${report.traceHash}`,
    );
  });
});
