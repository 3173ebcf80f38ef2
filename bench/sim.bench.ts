// The simulator: events per second on one core, memory per simulated node, the largest world tried.
//   node --expose-gc --import tsx bench/sim.bench.ts [--quick] [--max-nodes N]
// (npx tsx bench/sim.bench.ts works too, without the memory figures, which need a full GC.)
//
// Throughput: N pinger nodes (packages/sim/src/examples/pinger.ts), each pinging a random peer
// every second and answering every ping, on the default network (5 ms + per-node access delay +
// Pareto tail). An event is one queue entry run: a message delivered or a wake-up. After 2 s of
// virtual warm-up, timed rounds each run a span of virtual time; the figure is the median round.
// Memory: the heap (plus typed-array backing stores) after a full GC, before and after creating
// and starting N idle nodes — a pinger whose next ping is an hour away, so each holds one pending
// wake-up — divided by N. It counts everything a node costs: machine, id, clock, timer, queue entry.
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { type Pinger, World, pingerProgram } from '@postern/sim';
import { median } from './harness.ts';

export interface SimFigures {
  readonly throughput: { nodes: number; eventsPerSec: number; rounds: number[] }[];
  readonly memory: { nodes: number; bytesPerNode: number; heapMiB: number; startMs: number }[];
  readonly gc: boolean;
}

const gc = (globalThis as { gc?: () => void }).gc;

function heapBytes(): number {
  gc?.();
  gc?.();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** Median events/s of `rounds` rounds, each running `roundMs` of virtual time. */
function throughput(nodes: number, rounds: number, roundMs: number) {
  const world = new World({ seed: 1, nodes, program: pingerProgram(1000) });
  world.run(2000);
  const rates: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const events = world.stats.events;
    const start = performance.now();
    world.runFor(roundMs);
    rates.push(((world.stats.events - events) * 1000) / (performance.now() - start));
  }
  return { nodes, eventsPerSec: median(rates), rounds: rates };
}

function memory(nodes: number) {
  const before = heapBytes();
  const start = performance.now();
  const world = new World<never, Pinger>({ seed: 1, nodes, program: pingerProgram(3_600_000) });
  world.start(); // every node boots and arms its timer
  const startMs = performance.now() - start;
  const after = heapBytes();
  if (world.pendingEvents !== nodes) throw new Error('every idle node holds one wake-up');
  return { nodes, bytesPerNode: (after - before) / nodes, heapMiB: after / 2 ** 20, startMs };
}

export function runSimBench(quick: boolean, maxNodes = 1_000_000): SimFigures {
  const rounds = quick ? 3 : 7;
  const sizes = [10_000, 100_000, 1_000_000].filter((n) => n <= maxNodes);
  return {
    throughput: [
      throughput(10_000, rounds, quick ? 2000 : 10_000),
      ...(maxNodes >= 100_000 ? [throughput(100_000, rounds, quick ? 200 : 1000)] : []),
    ],
    memory: gc === undefined ? [] : sizes.map(memory),
    gc: gc !== undefined,
  };
}

export function printSimFigures(f: SimFigures): void {
  console.log('\nSimulator (packages/sim): pinger nodes, one core');
  for (const t of f.throughput) {
    const rounds = t.rounds.map((r) => (r / 1000).toFixed(0)).join(', ');
    console.log(
      `  ${t.nodes.toLocaleString('en-US').padStart(9)} nodes: ${(t.eventsPerSec / 1000).toFixed(0)} k events/s (rounds: ${rounds} k)`,
    );
  }
  for (const m of f.memory) {
    const each = `${m.bytesPerNode.toFixed(0)} B per idle node with a timer`;
    console.log(
      `  ${m.nodes.toLocaleString('en-US').padStart(9)} nodes: ${each}, heap ${m.heapMiB.toFixed(0)} MiB, built and started in ${m.startMs.toFixed(0)} ms`,
    );
  }
  const largest = f.memory.at(-1);
  if (largest) console.log(`  largest world tried: ${largest.nodes.toLocaleString('en-US')} nodes (fits)`);
  if (!f.gc) console.log('  memory: run with node --expose-gc --import tsx bench/sim.bench.ts');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const maxAt = process.argv.indexOf('--max-nodes');
  const maxNodes = maxAt > 0 ? Number(process.argv[maxAt + 1]) : 1_000_000;
  printSimFigures(runSimBench(process.argv.includes('--quick'), maxNodes));
}
