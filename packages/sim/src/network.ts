import { type Rng, UsageError } from '@postern/core';
import { type Distribution, checkDistribution, draw, pareto } from './distributions.ts';

/** The virtual network's behaviour. Every field can change during a run (`world.configureNetwork`). */
export interface NetworkOptions {
  /** Every message takes at least this long. */
  readonly minLatencyMs: number;
  /** Each node's access delay is uniform in [0, nodeLatencyMaxMs); a link's minimum adds both ends'. */
  readonly nodeLatencyMaxMs: number;
  /** The heavy tail each message adds to its link's minimum, capped at tailMaxMs. */
  readonly latencyTail: Distribution;
  readonly tailMaxMs: number;
  /** Probability that a message is lost. */
  readonly loss: number;
  /** Probability that a message arrives twice (the copy takes its own latency draw). */
  readonly duplicate: number;
  /** Probability that a message is held back up to reorderMaxMs more, so later messages overtake it. */
  readonly reorder: number;
  readonly reorderMaxMs: number;
  /** Each node's uplink (Infinity: unlimited). Messages wait their turn: queueing delay. */
  readonly egressBytesPerSec: number;
  /** A message that would wait longer than this in its sender's uplink is dropped (a router's tail drop). */
  readonly egressQueueMaxMs: number;
}

export const defaultNetwork: NetworkOptions = {
  minLatencyMs: 5,
  nodeLatencyMaxMs: 20,
  latencyTail: pareto(5, 2.5), // mean 3.3 ms; 1 % of messages above ~30 ms
  tailMaxMs: 2000,
  loss: 0,
  duplicate: 0,
  reorder: 0,
  reorderMaxMs: 100,
  egressBytesPerSec: Infinity,
  egressQueueMaxMs: 2000,
};

export type DropReason = 'loss' | 'partition' | 'node-down' | 'egress-full' | 'unknown-node' | 'adversary';

/**
 * The network model: latency, loss, duplication, reordering, uplink bandwidth, and the connectivity
 * the world's fault verbs set (partition groups, cut links, clogged links). It holds no scripts:
 * scenarios change it only through `World` (partition, isolate, cut, clog, heal).
 */
export class Network {
  readonly #rng: Rng;
  readonly #count: number;
  #options: NetworkOptions;
  readonly #access: Float64Array; // per node, uniform [0, 1): scaled by nodeLatencyMaxMs
  readonly #group: Int32Array; // two nodes reach each other only in the same group
  readonly #egressFreeAt: Float64Array;
  readonly #egressBps: Float64Array; // per-node override; NaN: the option
  readonly #cuts = new Set<number>();
  readonly #clogs = new Map<number, number>();
  #nextGroup = 1;

  constructor(count: number, options: Partial<NetworkOptions>, rng: Rng) {
    this.#rng = rng;
    this.#count = count;
    this.#options = checked({ ...defaultNetwork, ...options });
    this.#access = new Float64Array(count);
    for (let i = 0; i < count; i++) this.#access[i] = rng.float();
    this.#group = new Int32Array(count);
    this.#egressFreeAt = new Float64Array(count);
    this.#egressBps = new Float64Array(count).fill(NaN);
  }

  get options(): NetworkOptions {
    return this.#options;
  }

  configure(options: Partial<NetworkOptions>): void {
    this.#options = checked({ ...this.#options, ...options });
  }

  connected(a: number, b: number): boolean {
    return this.#group[a] === this.#group[b] && (this.#cuts.size === 0 || !this.#cuts.has(this.#link(a, b)));
  }

  /**
   * When a message of `size` bytes finishes leaving node a's uplink, having waited for those queued
   * before it; -1 when it would wait longer than egressQueueMaxMs (dropped, uplink unchanged).
   */
  depart(a: number, size: number, now: number): number {
    let bps = this.#egressBps[a] as number;
    if (bps !== bps) bps = this.#options.egressBytesPerSec; // NaN: no override
    if (bps === Infinity) return now;
    const free = this.#egressFreeAt[a] as number;
    const start = free > now ? free : now;
    if (start - now > this.#options.egressQueueMaxMs) return -1;
    const done = start + (size * 1000) / bps;
    this.#egressFreeAt[a] = done;
    return done;
  }

  lost(): boolean {
    const p = this.#options.loss;
    return p > 0 && this.#rng.float() < p;
  }

  duplicated(): boolean {
    const p = this.#options.duplicate;
    return p > 0 && this.#rng.float() < p;
  }

  /** One copy's time on the wire from a to b: the link's minimum, a tail draw, reordering and clogging. */
  latency(a: number, b: number): number {
    const o = this.#options;
    let ms =
      o.minLatencyMs + ((this.#access[a] as number) + (this.#access[b] as number)) * o.nodeLatencyMaxMs;
    if (o.tailMaxMs > 0) ms += Math.min(draw(o.latencyTail, this.#rng), o.tailMaxMs);
    if (o.reorder > 0 && this.#rng.float() < o.reorder) ms += this.#rng.float() * o.reorderMaxMs;
    if (this.#clogs.size > 0) ms += this.#clogs.get(this.#link(a, b)) ?? 0;
    return ms;
  }

  /** The minimum latency of the link between a and b (no tail, no clog). */
  linkMinMs(a: number, b: number): number {
    const o = this.#options;
    return o.minLatencyMs + ((this.#access[a] as number) + (this.#access[b] as number)) * o.nodeLatencyMaxMs;
  }

  /** A partition group id not used yet. */
  newGroup(): number {
    return this.#nextGroup++;
  }

  setGroup(i: number, group: number): void {
    this.#group[i] = group;
  }

  /** Cuts (or restores) the link between a and b, both ways. */
  cut(a: number, b: number, isCut: boolean): void {
    if (isCut) this.#cuts.add(this.#link(a, b));
    else this.#cuts.delete(this.#link(a, b));
  }

  /** Adds ms to every message between a and b, both ways (0 removes the clog). */
  clog(a: number, b: number, ms: number): void {
    if (!(ms >= 0 && ms < Infinity))
      throw new UsageError('SIM_BAD_CLOG', `a clog adds 0 ≤ ms < ∞, got ${ms}`);
    if (ms === 0) this.#clogs.delete(this.#link(a, b));
    else this.#clogs.set(this.#link(a, b), ms);
  }

  /** Every node in one group, no cut or clogged link. */
  heal(): void {
    this.#group.fill(0);
    this.#cuts.clear();
    this.#clogs.clear();
  }

  /** Overrides node i's uplink bandwidth (undefined: back to the option). */
  setEgress(i: number, bytesPerSec: number | undefined): void {
    if (bytesPerSec !== undefined && !(bytesPerSec > 0)) {
      throw new UsageError('SIM_BAD_BANDWIDTH', `bandwidth is > 0 bytes/s, got ${bytesPerSec}`);
    }
    this.#egressBps[i] = bytesPerSec ?? NaN;
  }

  /** Empties node i's uplink queue (the node crashed: its queued sends are the network's now). */
  resetEgress(i: number): void {
    this.#egressFreeAt[i] = 0;
  }

  #link(a: number, b: number): number {
    return a < b ? a * this.#count + b : b * this.#count + a;
  }
}

function checked(o: NetworkOptions): NetworkOptions {
  const probabilities = [o.loss, o.duplicate, o.reorder];
  const durations = [o.minLatencyMs, o.nodeLatencyMaxMs, o.tailMaxMs, o.reorderMaxMs, o.egressQueueMaxMs];
  if (!probabilities.every((p) => p >= 0 && p <= 1)) {
    throw new UsageError('SIM_BAD_NETWORK', `loss, duplicate and reorder are probabilities in [0, 1]`);
  }
  if (!durations.every((ms) => ms >= 0 && ms < Infinity) || !(o.egressBytesPerSec > 0)) {
    throw new UsageError('SIM_BAD_NETWORK', `network durations are finite and ≥ 0, bandwidth > 0`);
  }
  checkDistribution(o.latencyTail, 'latencyTail');
  return o;
}
