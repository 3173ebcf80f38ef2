// Kademlia machines in the deterministic simulator (packages/sim), 1,000 nodes, fixed seeds: every
// node bootstraps through node 0, records are stored from random nodes and read from others.
// Without faults every read finds the newest version.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Millis, type NodeId, Rng, toHex, utf8 } from '@postern/core';
import { createSodiumProvider } from '@postern/crypto';
import { type NodeProgram, World } from '@postern/sim';
import {
  type Contact,
  KademliaMachine,
  type KademliaEvent,
  type SignedRecord,
  recordKey,
  signRecord,
} from '../src/index.ts';

const WALL_EPOCH_MS = 1_790_000_000_000;
const HOUR = 3_600_000;
const address = (id: Uint8Array) => [`sim://${toHex(id).slice(0, 16)}`];

/** A machine per node; the first message from a peer stands for its link coming up. */
const program: NodeProgram<KademliaEvent, KademliaMachine> = {
  create: (node) => {
    const rng = node.rng.fork('crypto');
    const machine = new KademliaMachine({
      self: node.id,
      crypto: createSodiumProvider({ random: (n) => rng.bytes(n) }),
      rng: node.rng.fork('kad'),
      wallClockOffsetMs: WALL_EPOCH_MS,
      now: node.now,
    });
    const receive = machine.handleReceive.bind(machine);
    machine.handleReceive = (from: NodeId, bytes: Uint8Array, now: Millis) => {
      if (machine.addressesOf(from) === undefined)
        machine.peerConnected({ id: from, addresses: address(from) }, now);
      receive(from, bytes, now);
    };
    return machine;
  },
};

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
      const bootstrap: Contact = { id: world.id(0), addresses: address(world.id(0)) };
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
              expiresAtMs: WALL_EPOCH_MS + 10 * HOUR,
            },
            { recordValueBytesMax: 4096, recordSaltBytesMax: 64, recordTtlMaxMs: 48 * HOUR },
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
