import { type Machine, Rng, UsageError } from '@postern/core';
import {
  type Invariant,
  type Liveness,
  type TotalQueueResult,
  TotalQueue,
  describeQueue,
} from './checkers.ts';
import type { ClockOptions } from './clock.ts';
import type { NetworkOptions } from './network.ts';
import type { NodeProgram } from './node.ts';
import { World, type WorldStats } from './world.ts';

/** What every scenario's options hold; a scenario adds its own fields. */
export interface ScenarioOptions {
  readonly nodes: number;
  /** Phase 1: the workload runs and faults are on for this long. */
  readonly faultMs: number;
  /** Phase 2: after the world heals, every liveness property must hold within this bound. */
  readonly convergeWithinMs: number;
  /** How often invariants (both phases) and liveness (phase 2) are checked. */
  readonly checkEveryMs: number;
  readonly network?: Partial<NetworkOptions>;
  readonly clocks?: Partial<ClockOptions>;
  /** Total-queue outcomes that are not failures (a best-effort protocol may lose messages). */
  readonly tolerate?: { readonly lost?: boolean; readonly duplicated?: boolean };
}

export type Phase = 'faults' | 'heal';

export interface ScenarioContext<E, M extends Machine<E>, O extends ScenarioOptions> {
  readonly world: World<E, M>;
  readonly options: O;
  readonly seed: number;
  /** Independent forks of the seed: adding draws to one never shifts the other. */
  readonly workloadRng: Rng;
  readonly faultRng: Rng;
  /** The total-queue checker: the workload records enqueues and deliveries; reported every run. */
  readonly queue: TotalQueue;
  readonly phase: Phase;
}

/**
 * A scenario: options drawn from the seed (swarm mode draws node counts and fault rates too), the
 * node program, a workload that schedules commands and faults, and the checkers. It runs in two
 * phases: faults on for `faultMs`; then the world heals (partitions, cuts and clogs end, churn stops,
 * crashed nodes restart), `onHeal` runs, and every liveness property must hold within `convergeWithinMs`.
 */
export interface Scenario<E, M extends Machine<E>, O extends ScenarioOptions> {
  readonly name: string;
  readonly summary: string;
  /** The run's options, from the seed's 'options' stream; `request.nodes` overrides the node count. */
  options(rng: Rng, request: { readonly nodes?: number }): O;
  program(options: O): NodeProgram<E, M>;
  workload(ctx: ScenarioContext<E, M, O>): void;
  onHeal?(ctx: ScenarioContext<E, M, O>): void;
  readonly invariants: readonly Invariant<ScenarioContext<E, M, O>>[];
  readonly liveness: readonly Liveness<ScenarioContext<E, M, O>>[];
  /** The scenario's own measurements, reported with the run (delivery ratios, latencies...). */
  figures?(ctx: ScenarioContext<E, M, O>): Record<string, number | string>;
}

export interface RunRequest {
  readonly seed: number;
  readonly nodes?: number;
  /** Called after every check interval of virtual time (the CLI draws its progress bar with it). */
  readonly onProgress?: (progress: Progress) => void;
  readonly maxPendingEvents?: number;
}

export interface Progress {
  readonly phase: Phase;
  readonly simMs: number;
  /** The latest the run can end: faultMs + convergeWithinMs. */
  readonly endMs: number;
  readonly events: number;
}

export interface InvariantReport {
  readonly name: string;
  readonly violations: number;
  readonly first?: string;
}

export interface RunReport {
  readonly scenario: string;
  readonly seed: number;
  readonly nodes: number;
  readonly ok: boolean;
  /** One sentence per failure. */
  readonly failures: readonly string[];
  readonly events: number;
  readonly simTimeMs: number;
  readonly traceHash: string;
  readonly stats: WorldStats;
  readonly queue: TotalQueueResult;
  readonly invariants: readonly InvariantReport[];
  readonly liveness: {
    readonly converged: boolean;
    readonly afterHealMs?: number;
    readonly pending: string[];
  };
  /** The options drawn for this run. */
  readonly options: ScenarioOptions;
  /** The scenario's own measurements, if it makes any. */
  readonly figures?: Record<string, number | string>;
}

/** A scenario with its types erased, for registries and the CLI. */
export interface RunnableScenario {
  readonly name: string;
  readonly summary: string;
  run(request: RunRequest): RunReport;
}

export function defineScenario<E, M extends Machine<E>, O extends ScenarioOptions>(
  scenario: Scenario<E, M, O>,
): RunnableScenario {
  return { name: scenario.name, summary: scenario.summary, run: (request) => runScenario(scenario, request) };
}

/** The command that reruns one seed exactly (without a node count: the one the seed draws). */
export function reproduceCommand(run: {
  readonly scenario: string;
  readonly seed: number;
  readonly nodes?: number | undefined;
}): string {
  const nodes = run.nodes === undefined ? '' : ` --nodes ${run.nodes}`;
  return `npm run sim -- ${run.scenario} --seed ${run.seed}${nodes}`;
}

export function runScenario<E, M extends Machine<E>, O extends ScenarioOptions>(
  scenario: Scenario<E, M, O>,
  request: RunRequest,
): RunReport {
  const { ctx, state } = setUp(scenario, request);
  const { world, options } = ctx;
  const invariants = new InvariantWatch(scenario.invariants, ctx);
  scenario.workload(ctx);
  world.every(options.checkEveryMs, () => invariants.check());
  const endMs = options.faultMs + options.convergeWithinMs;
  const progress = (): void =>
    request.onProgress?.({ phase: state.phase, simMs: world.now, endMs, events: world.stats.events });

  // Phase 1, bounded: time moves forward by checkEveryMs (> 0) until faultMs.
  for (let t = 0; t < options.faultMs;) {
    t = Math.min(t + options.checkEveryMs, options.faultMs);
    world.run(t);
    progress();
  }
  state.phase = 'heal';
  world.heal();
  world.stopChurn();
  world.restartCrashed();
  scenario.onHeal?.(ctx);
  const liveness = converge(scenario.liveness, ctx, progress);
  invariants.check();

  const report = {
    scenario: scenario.name,
    seed: request.seed,
    nodes: options.nodes,
    events: world.stats.events,
    simTimeMs: world.now,
    traceHash: world.traceHash(),
    stats: structuredClone(world.stats),
    queue: ctx.queue.result(),
    invariants: invariants.reports(),
    liveness,
    options,
    ...(scenario.figures ? { figures: scenario.figures(ctx) } : {}),
  };
  const failures = failuresOf(report, options);
  return { ...report, ok: failures.length === 0, failures };
}

/** The run's options, world and context, each from its own fork of the seed. */
function setUp<E, M extends Machine<E>, O extends ScenarioOptions>(
  scenario: Scenario<E, M, O>,
  request: RunRequest,
): { ctx: ScenarioContext<E, M, O>; state: { phase: Phase } } {
  if (!Number.isSafeInteger(request.seed) || request.seed < 0) {
    throw new UsageError('SIM_BAD_SEED', `a seed is a non-negative integer, got ${request.seed}`);
  }
  const root = Rng.fromSeed(request.seed);
  const options = scenario.options(
    root.fork('options'),
    request.nodes === undefined ? {} : { nodes: request.nodes },
  );
  checkOptions(options);
  const world = new World<E, M>({
    seed: root,
    nodes: options.nodes,
    program: scenario.program(options),
    ...(options.network && { network: options.network }),
    ...(options.clocks && { clocks: options.clocks }),
    ...(request.maxPendingEvents !== undefined && { maxPendingEvents: request.maxPendingEvents }),
  });
  const state: { phase: Phase } = { phase: 'faults' };
  const ctx: ScenarioContext<E, M, O> = {
    world,
    options,
    seed: request.seed,
    workloadRng: root.fork('workload'),
    faultRng: root.fork('faults'),
    queue: new TotalQueue(),
    get phase() {
      return state.phase;
    },
  };
  return { ctx, state };
}

/** Phase 2: runs in check intervals until every liveness property holds or the bound passes. */
function converge<E, M extends Machine<E>, O extends ScenarioOptions>(
  liveness: readonly Liveness<ScenarioContext<E, M, O>>[],
  ctx: ScenarioContext<E, M, O>,
  progress: () => void,
): RunReport['liveness'] {
  const { world, options } = ctx;
  const healedAt = world.now;
  const endMs = healedAt + options.convergeWithinMs;
  // Bounded: time moves forward by checkEveryMs (> 0) until endMs.
  for (;;) {
    const pending = liveness.flatMap((l) => {
      const missing = l.check(ctx);
      return missing === undefined ? [] : [`${l.name}: ${missing}`];
    });
    if (pending.length === 0) return { converged: true, afterHealMs: world.now - healedAt, pending };
    if (world.now >= endMs) return { converged: false, pending };
    world.run(Math.min(world.now + options.checkEveryMs, endMs));
    progress();
  }
}

class InvariantWatch<C> {
  readonly #invariants: readonly Invariant<C>[];
  readonly #ctx: C & { readonly world: { readonly now: number } };
  readonly #violations: number[];
  readonly #first: (string | undefined)[];

  constructor(invariants: readonly Invariant<C>[], ctx: C & { readonly world: { readonly now: number } }) {
    this.#invariants = invariants;
    this.#ctx = ctx;
    this.#violations = invariants.map(() => 0);
    this.#first = invariants.map(() => undefined);
  }

  check(): void {
    this.#invariants.forEach((invariant, k) => {
      const broken = invariant.check(this.#ctx);
      if (broken === undefined) return;
      this.#violations[k] = (this.#violations[k] as number) + 1;
      this.#first[k] ??= `at ${this.#ctx.world.now.toFixed(0)} ms: ${broken}`;
    });
  }

  reports(): InvariantReport[] {
    return this.#invariants.map((invariant, k) => {
      const first = this.#first[k];
      return { name: invariant.name, violations: this.#violations[k] as number, ...(first && { first }) };
    });
  }
}

function failuresOf(report: Omit<RunReport, 'ok' | 'failures'>, options: ScenarioOptions): string[] {
  const failures: string[] = [];
  for (const inv of report.invariants) {
    if (inv.violations > 0)
      failures.push(`invariant "${inv.name}" broken in ${inv.violations} checks, first ${inv.first}`);
  }
  if (!report.liveness.converged) {
    const bound = options.convergeWithinMs;
    failures.push(`not converged within ${bound} ms after healing: ${report.liveness.pending.join('; ')}`);
  }
  const q = report.queue;
  const ids = (list: readonly unknown[]): string => (list.length > 0 ? ` (e.g. ids ${list.join(', ')})` : '');
  if (q.lost > 0 && !options.tolerate?.lost) {
    failures.push(
      `total queue: ${q.lost} acknowledged messages lost${ids(q.examples.lost)}; ${describeQueue(q)}`,
    );
  }
  if (q.duplicated > 0 && !options.tolerate?.duplicated) {
    failures.push(
      `total queue: ${q.duplicated} messages delivered more than once${ids(q.examples.duplicated)}`,
    );
  }
  if (q.unexpected > 0) {
    failures.push(
      `total queue: ${q.unexpected} messages delivered that were never enqueued${ids(q.examples.unexpected)}`,
    );
  }
  return failures;
}

function checkOptions(o: ScenarioOptions): void {
  const durations = [o.faultMs, o.convergeWithinMs];
  if (
    !durations.every((ms) => ms >= 0 && ms < Infinity) ||
    !(o.checkEveryMs > 0 && o.checkEveryMs < Infinity)
  ) {
    throw new UsageError('SIM_BAD_SCENARIO', `phase durations are finite and ≥ 0, checkEveryMs > 0`);
  }
}
