// Kademlia lookups against malicious nodes, in the simulator (S/Kademlia's question):
//   node --import tsx bench/kademlia-adversary.bench.ts [--nodes N] [--records R]
//
// N nodes join through node 0 and R records are stored while every node is honest. Then a fraction
// of the nodes turns malicious, in three kinds (one in three each):
//   fabricate — asked for nodes or a value, answers with k made-up contacts whose ids share the
//               target's first 20 bits (closer than any real node, and nobody there);
//   collude   — answers with the k malicious nodes closest to the target (real, closer-looking than
//               most honest ones, and lying in turn), and asked for a value serves a forged record
//               (the stored one with a higher seq and another value, the signature left as it was);
//   drop      — never answers.
// Asked to store, every malicious node says "ok" and keeps nothing. Honest nodes then read every
// record; a read succeeds if it returns the record. One network per fraction (joining
// 10,000 nodes takes most of the run); each row reads every record with d disjoint paths, d = 1
// first. Rows share the network, so a later row meets tables that earlier reads touched (a few
// silent nodes evicted where a replacement waited): if anything, d = 1 has the hardest start.
import { pathToFileURL } from 'node:url';
import { type Millis, type NodeId, type Output, Rng, bytesEqual, utf8 } from '@postern/core';
import { createSodiumProvider } from '@postern/crypto';
import {
  DEFAULT_KADEMLIA_LIMITS,
  type KadMessage,
  type KademliaEvent,
  type KademliaMachine,
  SIM_WALL_EPOCH_MS,
  type SignedRecord,
  compareDistance,
  decodeMessage,
  encodeMessage,
  kademliaProgram,
  recordKey,
  signRecord,
  simContact,
} from '@postern/kademlia';
import { type NodeProgram, World } from '@postern/sim';

interface Run {
  readonly d: number;
  readonly malicious: number;
  readonly found: number;
  /** Reads that returned a record other than the one stored: must be 0. */
  readonly forged: number;
  readonly reads: number;
}

type Kind = 'fabricate' | 'collude' | 'drop';

interface Adversary {
  readonly kinds: Map<number, Kind>;
  /** Every malicious node's id, for colluders to name each other. */
  readonly ids: NodeId[];
  on: boolean;
}

/** The honest program, with a switch that turns a node into one of the kinds described above. */
function program(adversary: Adversary): NodeProgram<KademliaEvent, KademliaMachine> {
  const honest = kademliaProgram();
  return {
    create: (node) => {
      const machine = honest.create(node);
      const kind = adversary.kinds.get(node.index);
      if (kind === undefined) return machine;
      const rng = node.rng.fork('lies');
      const extra: Output<KademliaEvent>[] = [];
      const receive = machine.handleReceive.bind(machine);
      const poll = machine.pollOutput.bind(machine);
      machine.handleReceive = (from: NodeId, bytes: Uint8Array, now: Millis) => {
        const message = adversary.on ? decodeMessage(bytes, machine.limits) : undefined;
        if (!message?.ok) return receive(from, bytes, now);
        const lie = lieFor(kind, message.value, machine, adversary, rng, now);
        if (lie === 'silence') return;
        if (lie === undefined) return receive(from, bytes, now);
        extra.push({ type: 'transmit', to: from, bytes: encodeMessage(lie) });
      };
      machine.pollOutput = () => extra.shift() ?? poll();
      return machine;
    },
  };
}

function lieFor(
  kind: Kind,
  message: KadMessage,
  machine: KademliaMachine,
  adversary: Adversary,
  rng: Rng,
  now: Millis,
): KadMessage | 'silence' | undefined {
  if (message.t === 'store')
    return kind === 'drop' ? 'silence' : { t: 'stored', rid: message.rid, result: 'ok' };
  if (message.t !== 'find_node' && message.t !== 'find_value') return undefined;
  if (kind === 'drop') return 'silence';
  const target = message.t === 'find_node' ? message.target : message.key;
  if (kind === 'fabricate') return { t: 'nodes', rid: message.rid, nodes: madeUp(target, rng) };
  const nodes = [...adversary.ids]
    .filter((id) => !bytesEqual(id, machine.self))
    .sort((a, b) => compareDistance(target, a, b))
    .slice(0, machine.limits.bucketSize)
    .map(simContact);
  const held =
    message.t === 'find_value' ? machine.store.get(message.key, now + SIM_WALL_EPOCH_MS) : undefined;
  if (held === undefined) return { t: 'nodes', rid: message.rid, nodes };
  const forged = { ...held, seq: held.seq + 1, value: utf8('forged') };
  return { t: 'value', rid: message.rid, record: forged, nodes };
}

/** k ids sharing the target's first 20 bits: closer than any real node in a network this size. */
function madeUp(target: Uint8Array, rng: Rng) {
  return Array.from({ length: 20 }, () => {
    const id = rng.bytes(32);
    id.set(target.subarray(0, 2));
    id[2] = ((target[2] as number) & 0xf0) | ((id[2] as number) & 0x0f);
    return simContact(id as NodeId);
  });
}

/**
 * Builds one network (every node honest while it joins and the records are stored), turns
 * `fraction` of it malicious, then reads every record once per d in `ds`, the same readers each time.
 */
export function runAdversary(nodes: number, records: number, fraction: number, ds: readonly number[]): Run[] {
  const rng = Rng.fromSeed(`adversary ${nodes}`);
  const kinds = new Map<number, Kind>();
  const order: Kind[] = ['fabricate', 'collude', 'drop'];
  for (let i = 1; i < nodes; i++) if (rng.float() < fraction) kinds.set(i, order[kinds.size % 3] as Kind);
  const adversary: Adversary = { kinds, ids: [], on: false };
  const world = new World<KademliaEvent, KademliaMachine>({ seed: 7, nodes, program: program(adversary) });
  for (const i of kinds.keys()) adversary.ids.push(world.id(i));
  const found: Extract<KademliaEvent, { type: 'value-found' }>[] = [];
  world.observe({ event: (_n, e) => void (e.type === 'value-found' && found.push(e)) });
  world.start();
  const first = simContact(world.id(0));
  for (let i = 1; i < nodes; i++)
    world.at(i * 10, () => world.act(i, (m, now) => void m.bootstrap([first], now)));
  const stored = storeRecords(world, nodes, records);
  world.run(nodes * 10 + 40_000 + records * 20);
  adversary.on = true;
  const honest = Array.from({ length: nodes }, (_, i) => i).filter((i) => !kinds.has(i));
  return ds.map((d) => {
    found.length = 0;
    const start = world.now;
    stored.forEach(({ key }, r) => {
      const reader = honest[(r * 104_729) % honest.length] as number;
      world.at(start + 1_000 + r * 50, () =>
        world.act(reader, (m, now) => void m.findValue(key, now, { disjointPaths: d })),
      );
    });
    world.run(start + 120_000 + records * 50);
    // A read counts only if it returned the very record stored (same signature): never a forgery.
    const genuine = (f: (typeof found)[number]) => {
      const original = stored.find((s) => bytesEqual(s.key, f.key))?.record;
      return (
        original !== undefined && f.record !== undefined && bytesEqual(f.record.signature, original.signature)
      );
    };
    return {
      d,
      malicious: kinds.size,
      found: found.filter(genuine).length,
      forged: found.filter((f) => f.record !== undefined && !genuine(f)).length,
      reads: found.length,
    };
  });
}

/** Schedules `records` signed records, each stored by some node 20 s after everyone joined. */
function storeRecords(
  world: World<KademliaEvent, KademliaMachine>,
  nodes: number,
  records: number,
): { key: Uint8Array; record: SignedRecord }[] {
  const crypto = createSodiumProvider();
  const keys: { key: Uint8Array; record: SignedRecord }[] = [];
  for (let r = 0; r < records; r++) {
    const owner = crypto.ed25519KeyPairFromSeed(new Uint8Array(32).fill(r + 1));
    const record = signRecord(
      crypto,
      owner.secretKey,
      {
        salt: utf8('identity'),
        seq: 1,
        value: utf8(`record ${r}`),
        expiresAtMs: SIM_WALL_EPOCH_MS + 10 * 3_600_000,
      },
      DEFAULT_KADEMLIA_LIMITS,
    );
    keys.push({ key: recordKey(crypto, owner.publicKey, utf8('identity')), record });
    const writer = 1 + ((r * 7919) % (nodes - 1));
    world.at(nodes * 10 + 20_000 + r * 20, () =>
      world.act(writer, (m, now) => void m.storeRecord(record, now)),
    );
  }
  return keys;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const arg = (name: string, fallback: number) => {
    const i = process.argv.indexOf(name);
    return i < 0 ? fallback : Number(process.argv[i + 1]);
  };
  const nodes = arg('--nodes', 1000);
  const records = arg('--records', 100);
  const fractions = process.argv.includes('--fraction') ? [arg('--fraction', 0.1)] : [0.1, 0.2];
  console.log(`Kademlia reads with malicious nodes: ${nodes} nodes, ${records} records, seed 7`);
  for (const fraction of fractions) {
    const started = performance.now();
    for (const run of runAdversary(nodes, records, fraction, [1, 4, 8])) {
      console.log(
        `  ${(fraction * 100).toFixed(0)} % malicious (${run.malicious}), d = ${run.d}: ` +
          `${run.found} of ${run.reads} reads found the record (${((100 * run.found) / Math.max(run.reads, 1)).toFixed(1)} %), ` +
          `${run.forged} returned a forgery`,
      );
    }
    console.log(`  (${((performance.now() - started) / 1000).toFixed(0)} s)`);
  }
}
