// npm run bench [-- --quick]: every benchmark, printed with how it was measured.
import { arch, cpus, totalmem } from 'node:os';
import { printFigures, runEnvelopeBench } from './envelope.bench.ts';
import { runTransportBench } from './transport.bench.ts';
import { printSimFigures, runSimBench } from './sim.bench.ts';
import { runKademliaBench } from './kademlia.bench.ts';

const quick = process.argv.includes('--quick');
console.log('Postern benchmarks');
console.log(`  date: ${new Date().toISOString()}`);
console.log(
  `  machine: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${arch()}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`,
);
console.log(
  `  method: single thread; each figure is the median of ${quick ? 3 : 7} timed rounds of ${quick ? 100 : 300} ms after warm-up`,
);
printFigures(runEnvelopeBench(quick));
await runTransportBench(quick);
printSimFigures(runSimBench(quick, quick ? 100_000 : 1_000_000));
runKademliaBench(quick);
