// Kademlia lookups in the simulator: RPC rounds and messages per lookup as the network grows.
//   node --import tsx bench/kademlia.bench.ts [--quick] [--nodes N ...]
// `npm run bench` measures 1,000 and 3,000 nodes; `--nodes 10000` builds a 10,000-node network
// first (every node joins and refreshes its buckets: ~25 minutes of one core).
//
// N nodes join one every 10 ms through node 0 on a network with a fixed 50 ms one-way latency (no
// jitter), so a lookup's duration divided by the 100 ms round trip is the number of sequential RPC
// rounds it took. Then lookups of random ids run one at a time from random nodes; messages counts
// every request and answer delivered while one runs. d = 4 disjoint paths, α = 3, k = 20.
import { pathToFileURL } from 'node:url';
import { Rng } from '@postern/core';
import { type KademliaEvent, type KademliaMachine, kademliaProgram, simContact } from '@postern/kademlia';
import { World } from '@postern/sim';
import { median } from './harness.ts';

const ONE_WAY_MS = 50;

export interface LookupFigures {
  readonly nodes: number;
  readonly lookups: number;
  readonly roundsMedian: number;
  readonly roundsP99: number;
  readonly messagesMedian: number;
}

export function measureLookups(nodes: number, lookups: number): LookupFigures {
  const world = new World<KademliaEvent, KademliaMachine>({
    seed: 1,
    nodes,
    program: kademliaProgram(),
    network: { minLatencyMs: ONE_WAY_MS, nodeLatencyMaxMs: 0, tailMaxMs: 0 },
  });
  let done: Extract<KademliaEvent, { type: 'nodes-found' }> | undefined;
  world.observe({ event: (_node, event) => void (event.type === 'nodes-found' && (done = event)) });
  world.start();
  const first = simContact(world.id(0));
  for (let i = 1; i < nodes; i++)
    world.at(i * 10, () => world.act(i, (m, now) => void m.bootstrap([first], now)));
  world.run(nodes * 10 + 30_000);
  const rng = Rng.fromSeed('lookups');
  const rounds: number[] = [];
  const messages: number[] = [];
  for (let q = 0; q < lookups; q++) {
    const from = rng.int(nodes);
    const target = rng.bytes(32);
    const start = world.now;
    const delivered = world.stats.delivered;
    done = undefined;
    world.act(from, (m, now) => void m.findNode(target, now));
    for (let step = 0; step < 100_000 && done === undefined; step++) world.step();
    rounds.push((world.now - start) / (2 * ONE_WAY_MS));
    messages.push(world.stats.delivered - delivered);
  }
  rounds.sort((a, b) => a - b);
  return {
    nodes,
    lookups,
    roundsMedian: median(rounds),
    roundsP99: rounds[Math.min(rounds.length - 1, Math.floor(rounds.length * 0.99))] as number,
    messagesMedian: median(messages),
  };
}

export function runKademliaBench(
  quick: boolean,
  sizes: readonly number[] = quick ? [1000] : [1000, 3000],
): void {
  console.log('\nKademlia lookups (packages/kademlia in packages/sim), one at a time, 50 ms one-way latency');
  for (const nodes of sizes) {
    const f = measureLookups(nodes, quick ? 20 : 200);
    console.log(
      `  ${nodes.toLocaleString('en').padStart(7)} nodes: RPC rounds per lookup median ${f.roundsMedian.toFixed(1)}, ` +
        `p99 ${f.roundsP99.toFixed(1)}; messages per lookup median ${f.messagesMedian} (${f.lookups} lookups)`,
    );
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const sizes = process.argv.flatMap((arg, i) => (process.argv[i - 1] === '--nodes' ? [Number(arg)] : []));
  runKademliaBench(process.argv.includes('--quick'), sizes.length > 0 ? sizes : undefined);
}
