// Kademlia lookups against malicious nodes, in the simulator (S/Kademlia's question):
//   node --import tsx bench/kademlia-adversary.bench.ts [--nodes N] [--records R]
//
// N nodes join through node 0 and R records are stored while every node is honest. Then a fraction
// of the nodes turns malicious: asked for nodes they answer with k made-up contacts whose ids
// share the target's first 20 bits (closer than any real node, and nobody there); asked for a
// value they answer the same way, never with the record; asked to store they say "ok" and keep
// nothing. Honest nodes then read every record; a read succeeds if it returns the record. Each
// row runs the same seed with d disjoint paths.
import { pathToFileURL } from 'node:url';
import { type Millis, type NodeId, type Output, Rng, utf8 } from '@postern/core';
import { createSodiumProvider } from '@postern/crypto';
import {
  DEFAULT_KADEMLIA_LIMITS,
  type KadMessage,
  type KademliaEvent,
  type KademliaMachine,
  SIM_WALL_EPOCH_MS,
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
  readonly reads: number;
}

/** The honest program, with a switch that turns a node into the liar described above. */
function program(
  d: number,
  liars: Set<number>,
  active: { on: boolean },
): NodeProgram<KademliaEvent, KademliaMachine> {
  const honest = kademliaProgram({ disjointPaths: d });
  return {
    create: (node) => {
      const machine = honest.create(node);
      if (!liars.has(node.index)) return machine;
      const rng = node.rng.fork('lies');
      const extra: Output<KademliaEvent>[] = [];
      const receive = machine.handleReceive.bind(machine);
      const poll = machine.pollOutput.bind(machine);
      machine.handleReceive = (from: NodeId, bytes: Uint8Array, now: Millis) => {
        const message = active.on ? decodeMessage(bytes, machine.limits) : undefined;
        if (!message?.ok) return receive(from, bytes, now);
        const lie = lieFor(message.value, rng);
        if (lie === undefined) return receive(from, bytes, now);
        extra.push({ type: 'transmit', to: from, bytes: encodeMessage(lie) });
      };
      machine.pollOutput = () => extra.shift() ?? poll();
      return machine;
    },
  };
}

function lieFor(message: KadMessage, rng: Rng): KadMessage | undefined {
  if (message.t === 'store') return { t: 'stored', rid: message.rid, result: 'ok' };
  if (message.t !== 'find_node' && message.t !== 'find_value') return undefined;
  const target = message.t === 'find_node' ? message.target : message.key;
  const nodes = Array.from({ length: 20 }, () => {
    const id = rng.bytes(32);
    id.set(target.subarray(0, 2));
    id[2] = ((target[2] as number) & 0xf0) | ((id[2] as number) & 0x0f);
    return simContact(id as NodeId);
  });
  return { t: 'nodes', rid: message.rid, nodes };
}

export function runAdversary(nodes: number, records: number, d: number, fraction: number): Run {
  const rng = Rng.fromSeed(`adversary ${nodes}`);
  const liars = new Set<number>();
  for (let i = 1; i < nodes; i++) if (rng.float() < fraction) liars.add(i);
  const active = { on: false };
  const world = new World<KademliaEvent, KademliaMachine>({
    seed: 7,
    nodes,
    program: program(d, liars, active),
  });
  const found: Extract<KademliaEvent, { type: 'value-found' }>[] = [];
  world.observe({ event: (_n, e) => void (e.type === 'value-found' && found.push(e)) });
  world.start();
  const first = simContact(world.id(0));
  for (let i = 1; i < nodes; i++)
    world.at(i * 10, () => world.act(i, (m, now) => void m.bootstrap([first], now)));
  const crypto = createSodiumProvider();
  const keys: Uint8Array[] = [];
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
    keys.push(recordKey(crypto, owner.publicKey, utf8('identity')));
    const writer = 1 + ((r * 7919) % (nodes - 1));
    world.at(nodes * 10 + 20_000 + r * 20, () =>
      world.act(writer, (m, now) => void m.storeRecord(record, now)),
    );
  }
  world.run(nodes * 10 + 40_000 + records * 20);
  active.on = true;
  const honest = Array.from({ length: nodes }, (_, i) => i).filter((i) => !liars.has(i));
  const start = world.now;
  keys.forEach((key, r) => {
    const reader = honest[(r * 104_729) % honest.length] as number;
    world.at(start + 1_000 + r * 50, () => world.act(reader, (m, now) => void m.findValue(key, now)));
  });
  world.run(start + 120_000 + records * 50);
  return {
    d,
    malicious: liars.size,
    found: found.filter((f) => f.record !== undefined).length,
    reads: found.length,
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const arg = (name: string, fallback: number) => {
    const i = process.argv.indexOf(name);
    return i < 0 ? fallback : Number(process.argv[i + 1]);
  };
  const nodes = arg('--nodes', 1000);
  const records = arg('--records', 100);
  console.log(`Kademlia reads with malicious nodes: ${nodes} nodes, ${records} records, seed 7`);
  for (const fraction of [0.1, 0.2]) {
    for (const d of [1, 4, 8]) {
      const run = runAdversary(nodes, records, d, fraction);
      console.log(
        `  ${(fraction * 100).toFixed(0)} % malicious (${run.malicious}), d = ${d}: ` +
          `${run.found} of ${run.reads} reads found the record (${((100 * run.found) / Math.max(run.reads, 1)).toFixed(1)} %)`,
      );
    }
  }
}
