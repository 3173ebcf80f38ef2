// npm run bench:relay [-- --quick] [-- --only sqlite,1,listen]: the relay under load, on SQLite and
// (with POSTERN_PG_URL) on PostgreSQL, then a quota filling up. `--only storage,threads,readers` runs
// that one row (no quota fill), for A/B runs of two commits. Figures go to docs/BENCHMARKS.md.
import { arch, cpus, totalmem } from 'node:os';
import { printRelayLoad, runQuotaFill, runRelayLoad } from './relay-load.bench.ts';

const quick = process.argv.includes('--quick');
const onlyAt = process.argv.indexOf('--only');
const only = onlyAt < 0 ? undefined : process.argv[onlyAt + 1];
const pgUrl = process.env['POSTERN_PG_URL'];
const shape = quick
  ? { writers: 150, readers: 50, warmupMs: 1000, measureMs: 2000 }
  : { writers: 4000, readers: 1000, warmupMs: 5000, measureMs: 20_000 };
console.log('Relay load');
console.log(`  date: ${new Date().toISOString()}`);
console.log(
  `  machine: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${arch()}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`,
);
console.log(
  `  method: a relay process (apps/relay) and this load generator on loopback WebSockets (JSON); ${shape.writers} writers with one signed ${512}-byte write in flight each (signed before the measured window; answered after the durable commit), ${shape.readers} readers listening (in the "pull all" rows also reading every record pushed to them); ${shape.warmupMs / 1000} s warm-up, ${shape.measureMs / 1000} s measured; relay CPU and RSS from /proc`,
);
type Run = { storage: 'sqlite' | 'postgresql'; verifyThreads: number; pullAll: boolean };
const runs: Run[] = [
  { storage: 'sqlite', verifyThreads: 0, pullAll: true },
  { storage: 'sqlite', verifyThreads: 1, pullAll: true },
  { storage: 'sqlite', verifyThreads: 0, pullAll: false },
  { storage: 'sqlite', verifyThreads: 1, pullAll: false },
  ...(pgUrl === undefined
    ? []
    : [
        { storage: 'postgresql' as const, verifyThreads: 0, pullAll: true },
        { storage: 'postgresql' as const, verifyThreads: 0, pullAll: false },
      ]),
];
const rowName = (r: Run) => `${r.storage},${r.verifyThreads},${r.pullAll ? 'pull' : 'listen'}`;
const chosen = runs.filter((r) =>
  only !== undefined ? rowName(r) === only : !quick || (r.verifyThreads === 1 && r.pullAll),
);
if (chosen.length === 0)
  throw new Error(`--only takes one of: ${runs.map(rowName).join(' ')} (postgresql needs POSTERN_PG_URL)`);
for (const run of chosen) {
  printRelayLoad(await runRelayLoad({ ...run, ...shape, ...(pgUrl === undefined ? {} : { pgUrl }) }));
}
if (only !== undefined) process.exit(0);
const quota = await runQuotaFill({
  storage: 'sqlite',
  verifyThreads: 0,
  pullAll: true,
  ...shape,
  writers: quick ? 20 : 200,
  quota: 1000,
  seconds: quick ? 3 : 10,
});
console.log(
  `  quota fill (SQLite, one account of ${quota.quota} records, ${quick ? 20 : 200} writers backing off 1 s, doubling, on "full"): ${quota.storedBeforeFull} stored, then ${quota.fullAnswers} "full" answers in ${quota.seconds} s (${quota.writeAttempts} attempts); the answer: "${quota.firstFullMessage}"`,
);
