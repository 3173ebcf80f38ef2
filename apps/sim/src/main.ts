// npm run sim -- <scenario> [--seed N] [--seeds K] [--nodes N] [--check-determinism]
// Runs a simulator scenario for one or more seeds, prints a summary row per seed and, for every
// failure, the command that reproduces it. Exit code 0: all passed; 1: a failure; 2: bad arguments.
import { randomInt } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { kademliaScenario } from '@postern/kademlia';
import { messagingDirectScenario, messagingScenario } from '@postern/node';
import {
  type Progress,
  type RunReport,
  type RunnableScenario,
  reproduceCommand,
  scenarios as simScenarios,
} from '@postern/sim';
import { type Row, formatHeader, formatRow } from './table.ts';

interface Args {
  readonly scenario: string;
  readonly seed: number;
  readonly seeds: number;
  readonly nodes: number | undefined;
  readonly checkDeterminism: boolean;
}

/** The simulator's own scenarios and those of the protocol packages, by name. */
const scenarios: ReadonlyMap<string, RunnableScenario> = new Map([
  ...simScenarios,
  [kademliaScenario.name, kademliaScenario],
  [messagingScenario.name, messagingScenario],
  [messagingDirectScenario.name, messagingDirectScenario],
]);

const USAGE = 'usage: npm run sim -- <scenario> [--seed N] [--seeds K] [--nodes N] [--check-determinism]';

function main(argv: readonly string[]): number {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(`${USAGE}\n${listScenarios()}`);
    return 0;
  }
  const args = parse(argv);
  if (typeof args === 'string') {
    console.error(`${args}\n${USAGE}\n${listScenarios()}`);
    return 2;
  }
  const scenario = scenarios.get(args.scenario);
  if (scenario === undefined) {
    console.error(
      `There is no scenario "${args.scenario}": pick one of the scenarios below.\n${listScenarios()}`,
    );
    return 2;
  }
  const last = args.seed + args.seeds - 1;
  console.log(args.seeds === 1 ? `SEED=${args.seed}` : `SEED=${args.seed} (seeds ${args.seed}…${last})`);
  console.log(`scenario ${scenario.name}: ${scenario.summary}`);
  console.log(formatHeader());
  const failed: { seed: number; nodes: number | undefined; lines: string[] }[] = [];
  for (let seed = args.seed; seed <= last; seed++) {
    const outcome = runSeed(args, seed, seed - args.seed + 1);
    if (outcome === 'usage') return 2;
    if (outcome.failures.length > 0) failed.push({ seed, nodes: outcome.nodes, lines: outcome.failures });
  }
  for (const f of failed) {
    console.log(`\nFAILED seed ${f.seed}:`);
    for (const line of f.lines) console.log(`  - ${line}`);
    console.log(
      `  reproduce: ${reproduceCommand({ scenario: args.scenario, seed: f.seed, nodes: f.nodes })}`,
    );
  }
  console.log(
    failed.length === 0
      ? `\nall ${args.seeds} seeds passed`
      : `\n${failed.length} of ${args.seeds} seeds failed`,
  );
  return failed.length === 0 ? 0 : 1;
}

/**
 * Runs one seed (twice with --check-determinism); prints its row; returns its failures, or 'usage'
 * when the scenario refused the arguments (said in one sentence on stderr).
 */
function runSeed(
  args: Args,
  seed: number,
  ordinal: number,
): { nodes: number | undefined; failures: string[] } | 'usage' {
  const scenario = scenarios.get(args.scenario);
  if (scenario === undefined) return { nodes: undefined, failures: ['no such scenario'] };
  const progress = progressBar(seed, ordinal, args.seeds);
  const request = {
    seed,
    ...(args.nodes !== undefined && { nodes: args.nodes }),
    onProgress: progress.update,
  };
  try {
    const start = performance.now();
    const report = scenario.run(request);
    const wallMs = performance.now() - start;
    const failures = [...report.failures];
    if (args.checkDeterminism) {
      const again = scenario.run(request);
      if (again.traceHash !== report.traceHash || again.events !== report.events) {
        failures.push(
          `not deterministic: trace hashes ${report.traceHash} and ${again.traceHash} ` +
            `(${report.events} and ${again.events} events)`,
        );
      }
    }
    progress.clear();
    console.log(formatRow(rowOf(report, wallMs, failures.length === 0)));
    if (report.figures) {
      const figures = Object.entries(report.figures).map(([name, value]) => `${name} ${value}`);
      console.log(`${' '.repeat(12)}${figures.join(', ')}`);
    }
    return { nodes: report.nodes, failures };
  } catch (error) {
    progress.clear();
    if (error instanceof Error && error.name === 'UsageError') {
      console.error(`${error.message[0]?.toUpperCase() ?? ''}${error.message.slice(1)}.`);
      return 'usage';
    }
    const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
    console.log(`${String(seed).padStart(10)}  crashed: ${text.split('\n')[0]}`);
    return { nodes: args.nodes, failures: [`the run threw: ${text}`] };
  }
}

function rowOf(report: RunReport, wallMs: number, ok: boolean): Row {
  const held = report.invariants.filter((i) => i.violations === 0).length;
  return {
    seed: report.seed,
    nodes: report.nodes,
    events: report.events,
    sent: report.stats.sent,
    delivered: report.stats.delivered,
    lost: report.queue.lost,
    duplicated: report.queue.duplicated,
    unexpected: report.queue.unexpected,
    recovered: report.queue.recovered,
    invariants: `${held}/${report.invariants.length}`,
    liveness: report.liveness.converged
      ? `+${((report.liveness.afterHealMs ?? 0) / 1000).toFixed(1)}s`
      : 'NO',
    simSeconds: report.simTimeMs / 1000,
    wallSeconds: wallMs / 1000,
    eventsPerSec: (report.events * 1000) / Math.max(wallMs, 1e-3),
    hash: report.traceHash,
    ok,
  };
}

/** A progress bar on stderr, only when stderr is a terminal, redrawn at most 10 times a second. */
function progressBar(
  seed: number,
  ordinal: number,
  total: number,
): { update: (p: Progress) => void; clear: () => void } {
  if (!process.stderr.isTTY) return { update: () => {}, clear: () => {} };
  let drawnAt = 0;
  let drawn = false;
  return {
    update: (p) => {
      const now = performance.now();
      if (now - drawnAt < 100) return;
      drawnAt = now;
      drawn = true;
      const fraction = Math.min(1, p.simMs / Math.max(p.endMs, 1));
      const bar = '#'.repeat(Math.round(fraction * 30)).padEnd(30, '.');
      const where = `seed ${seed} (${ordinal}/${total}) ${p.phase}`;
      const sim = `sim ${(p.simMs / 1000).toFixed(1)}/${(p.endMs / 1000).toFixed(1)} s`;
      process.stderr.write(`\r[${bar}] ${where}, ${sim}, ${p.events} events\x1b[K`);
    },
    clear: () => {
      if (drawn) process.stderr.write('\r\x1b[K');
    },
  };
}

function parse(argv: readonly string[]): Args | string {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        seed: { type: 'string' },
        seeds: { type: 'string' },
        nodes: { type: 'string' },
        'check-determinism': { type: 'boolean', default: false },
      },
    });
  } catch (error) {
    return `${error instanceof Error ? error.message : String(error)}.`;
  }
  const [scenario, ...extra] = parsed.positionals;
  if (scenario === undefined) return 'Name a scenario to run.';
  if (extra.length > 0) return `Unexpected arguments after the scenario: ${extra.join(' ')}.`;
  const { values } = parsed;
  const seed =
    values.seed === undefined ? randomInt(2 ** 31) : integer(values.seed, 0, Number.MAX_SAFE_INTEGER);
  const seeds = values.seeds === undefined ? 1 : integer(values.seeds, 1, 1_000_000);
  const nodes = values.nodes === undefined ? undefined : integer(values.nodes, 1, 16_777_216);
  if (seed === undefined) return `--seed takes a non-negative integer, got "${values.seed}".`;
  if (seeds === undefined) return `--seeds takes a count from 1 to 1000000, got "${values.seeds}".`;
  if (values.nodes !== undefined && nodes === undefined) {
    return `--nodes takes a count from 1 to 16777216, got "${values.nodes}".`;
  }
  return { scenario, seed, seeds, nodes, checkDeterminism: values['check-determinism'] };
}

/** The integer in text within [min, max]; undefined when it is not one. */
function integer(text: string, min: number, max: number): number | undefined {
  if (!/^\d+$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) && n >= min && n <= max ? n : undefined;
}

function listScenarios(): string {
  const lines = [...scenarios.values()].map((s) => `  ${s.name.padEnd(22)} ${s.summary}`);
  return `scenarios:\n${lines.join('\n')}`;
}

process.exitCode = main(process.argv.slice(2));
