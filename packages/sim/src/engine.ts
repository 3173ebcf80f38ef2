import { type Machine, type Millis, type NodeId, Rng, UsageError, assert } from '@postern/core';
import type { Adversary, AdversaryContext, Intercepted } from './adversary.ts';
import { type ClockOptions, Clocks, defaultClocks } from './clock.ts';
import { IdTable } from './id-table.ts';
import { SimLimits } from './limits.ts';
import { type DropReason, Network, type NetworkOptions } from './network.ts';
import type { Directory, NodeProgram, StoreWrite } from './node.ts';
import { EventQueue } from './queue.ts';
import { TraceHash } from './trace.ts';

const Kind = { Deliver: 1, Wake: 2, Call: 3 } as const;
/** Flags in the low bits of a delivery's `num`; the claimed sender is in the bits above. */
const INBOUND_DONE = 1; // the receiver's inbound adversary has already seen it
const INJECTED = 2; // forged by inject(): no network path to check
export const EMPTY_STORE: ReadonlyMap<string, Uint8Array> = new Map();

export interface WorldOptions<E, M extends Machine<E>> {
  /** Everything derives from it: node ids, network draws, clocks, adversaries. */
  readonly seed: number | Rng;
  readonly nodes: number;
  readonly program: NodeProgram<E, M>;
  /** Nodes [0, online) start with the world; the others join later through restart(i). Default: all. */
  readonly online?: number;
  readonly network?: Partial<NetworkOptions>;
  readonly clocks?: Partial<ClockOptions>;
  readonly maxPendingEvents?: number;
  /**
   * Copy transmitted bytes (default true), so a machine that reuses its output buffer cannot change
   * a message in flight. False saves an allocation per message for machines that never reuse one.
   */
  readonly copyTransmits?: boolean;
  readonly observers?: readonly WorldObserver<E>[];
}

/** Watches a world from outside (checkers, tests). `now` is virtual time. */
export interface WorldObserver<E> {
  event?(node: number, event: E, now: Millis): void;
  deliver?(from: number, to: number, bytes: Uint8Array, now: Millis): void;
  drop?(from: number, to: number, reason: DropReason, now: Millis): void;
}

export interface WorldStats {
  events: number;
  sent: number;
  delivered: number;
  /** Extra copies the network made. */
  duplicated: number;
  injected: number;
  wakeups: number;
  crashes: number;
  restarts: number;
  readonly dropped: Record<DropReason, number>;
}

/**
 * The event loop under `World`: an event queue ordered by (time, sequence) holds messages, wake-ups
 * and scheduled calls; every input to a machine is followed by a drain of its outputs — transmits
 * through the network model, events to persistence and the observers, and the final 'timeout'
 * moving the node's one wake-up (moved in place: never a stale wake-up in the queue).
 * `World` adds the verbs scenarios use.
 */
export class Engine<E, M extends Machine<E>> {
  readonly nodeCount: number;
  readonly stats: WorldStats = {
    events: 0,
    sent: 0,
    delivered: 0,
    duplicated: 0,
    injected: 0,
    wakeups: 0,
    crashes: 0,
    restarts: 0,
    dropped: { loss: 0, partition: 0, 'node-down': 0, 'egress-full': 0, 'unknown-node': 0, adversary: 0 },
  };
  protected readonly queue: EventQueue;
  protected readonly net: Network;
  protected readonly clocks: Clocks;
  protected readonly trace = new TraceHash();
  protected readonly ids: NodeId[];
  protected readonly idTable: IdTable;
  protected readonly machines: (M | undefined)[];
  protected readonly stores: (Map<string, Uint8Array> | undefined)[];
  protected readonly incarnation: Int32Array; // -1: never started
  protected readonly adversaries: ((AdversaryContext & Adversary) | undefined)[] = [];
  protected readonly adversaryRng: Rng;
  readonly #program: NodeProgram<E, M>;
  readonly #online: number;
  readonly #copy: boolean;
  readonly #nodesRng: Rng;
  readonly #directory: Directory;
  readonly #timerSlot: Int32Array; // the node's one pending wake-up, -1 when none
  readonly #wantLocal: Float64Array; // the local time it asked for; NaN when none
  readonly #scratch: Intercepted = { from: 0, to: 0, bytes: new Uint8Array(0), delayMs: 0 };
  readonly #onEvent: WorldObserver<E>[] = [];
  readonly #onDeliver: WorldObserver<E>[] = [];
  readonly #onDrop: WorldObserver<E>[] = [];
  #now = 0;
  #sameInstant = 0;
  #started = false;

  constructor(options: WorldOptions<E, M>) {
    const n = options.nodes;
    if (!Number.isSafeInteger(n) || n < 1 || n > SimLimits.maxNodes) {
      throw new UsageError('SIM_BAD_NODES', `a world has 1 to ${SimLimits.maxNodes} nodes, got ${n}`);
    }
    const root = typeof options.seed === 'number' ? Rng.fromSeed(options.seed) : options.seed;
    this.nodeCount = n;
    this.#program = options.program;
    this.#online = Math.min(options.online ?? n, n);
    this.#copy = options.copyTransmits ?? true;
    this.queue = new EventQueue(options.maxPendingEvents ?? SimLimits.maxPendingEvents);
    this.net = new Network(n, options.network ?? {}, root.fork('network'));
    this.clocks = new Clocks(n, { ...defaultClocks, ...options.clocks }, root.fork('clocks'));
    this.#nodesRng = root.fork('nodes');
    this.adversaryRng = root.fork('adversary');
    this.ids = this.#drawIds(n);
    this.idTable = new IdTable(this.ids);
    this.#directory = { count: n, id: (index) => this.ids[this.checkIndex(index)] as NodeId };
    this.machines = new Array<M | undefined>(n).fill(undefined);
    this.stores = new Array<Map<string, Uint8Array> | undefined>(n).fill(undefined);
    this.incarnation = new Int32Array(n).fill(-1);
    this.#timerSlot = new Int32Array(n).fill(-1);
    this.#wantLocal = new Float64Array(n).fill(NaN);
    for (const observer of options.observers ?? []) this.observe(observer);
  }

  /** Virtual time. */
  get now(): Millis {
    return this.#now as Millis;
  }

  get pendingEvents(): number {
    return this.queue.size;
  }

  /** A 64-bit hash (hex) of every event so far: equal seeds give equal hashes. */
  traceHash(): string {
    return this.trace.hex();
  }

  observe(observer: WorldObserver<E>): void {
    if (observer.event) this.#onEvent.push(observer);
    if (observer.deliver) this.#onDeliver.push(observer);
    if (observer.drop) this.#onDrop.push(observer);
  }

  /** Starts the nodes that are online from the beginning (run, step and act call it). */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    for (let i = 0; i < this.#online; i++) this.boot(i);
  }

  /** Runs every event due at or before untilMs, then sets virtual time to untilMs. */
  run(untilMs: number): void {
    this.start();
    // Terminates: every event moves time forward, or counts towards maxEventsAtOneInstant.
    while (this.queue.peekTime() <= untilMs) this.#step();
    if (untilMs > this.#now) this.#now = untilMs;
  }

  runFor(ms: number): void {
    this.run(this.#now + ms);
  }

  /** Runs the next event; false when none is pending. */
  step(): boolean {
    this.start();
    if (this.queue.size === 0) return false;
    this.#step();
    return true;
  }

  /** Calls a command on node i's machine (with its clock) and drains it; false when the node is down. */
  act(index: number, command: (machine: M, now: Millis) => void): boolean {
    this.start();
    const machine = this.machines[this.checkIndex(index)];
    if (machine === undefined) return false;
    command(machine, this.clocks.local(index, this.#now) as Millis);
    if (this.machines[index] === machine) this.#drain(index, machine); // unless the command crashed it
    return true;
  }

  /** Calls fn at virtual time timeMs (now, if past). */
  at(timeMs: number, fn: () => void): void {
    if (Number.isNaN(timeMs)) throw new UsageError('SIM_BAD_TIME', 'at(timeMs) needs a time, got NaN');
    this.queue.push(Math.max(timeMs, this.#now), Kind.Call, -1, -1, 0, fn);
  }

  after(ms: number, fn: () => void): void {
    this.at(this.#now + ms, fn);
  }

  /** Calls fn every periodMs, first after one period, until it returns false. */
  every(periodMs: number, fn: () => boolean | void): void {
    if (!(periodMs > 0)) throw new UsageError('SIM_BAD_PERIOD', `a period is > 0 ms, got ${periodMs}`);
    const tick = (): void => {
      if (fn() !== false) this.after(periodMs, tick);
    };
    this.after(periodMs, tick);
  }

  /** Delivers bytes to `to` as if sent by `from`, after delayMs, bypassing the network model. */
  inject(from: number, to: number, bytes: Uint8Array, delayMs = 0): void {
    this.checkIndex(from);
    this.checkIndex(to);
    this.stats.injected++;
    this.queue.push(
      this.#now + (delayMs > 0 ? delayMs : 0),
      Kind.Deliver,
      to,
      -1,
      (from << 2) | INJECTED,
      bytes,
    );
  }

  /** Starts node i's next incarnation from its store. */
  protected boot(i: number): void {
    const incarnation = (this.incarnation[i] as number) + 1;
    this.incarnation[i] = incarnation;
    this.trace.word(0x424f0000 ^ i);
    const machine = this.#program.create({
      index: i,
      id: this.ids[i] as NodeId,
      incarnation,
      rng: this.#nodesRng.fork(`node-${i}/incarnation-${incarnation}`),
      now: this.clocks.local(i, this.#now) as Millis,
      store: this.stores[i] ?? EMPTY_STORE,
      directory: this.#directory,
    });
    this.machines[i] = machine;
    this.#drain(i, machine);
  }

  /** Stops node i's machine and its wake-up. */
  protected halt(i: number): void {
    this.machines[i] = undefined;
    this.#setTimer(i, undefined);
    this.trace.word(0x43520000 ^ i);
  }

  /** After a clock change, the pending wake-up moves to when the clock will read the asked time. */
  protected retime(i: number): void {
    const want = this.#wantLocal[i] as number;
    if (want === want) this.#setTimer(i, want as Millis);
  }

  protected checkIndex(index: number): number {
    if (!(Number.isInteger(index) && index >= 0 && index < this.nodeCount)) {
      throw new UsageError('SIM_BAD_NODE', `no node ${index} in a world of ${this.nodeCount}`);
    }
    return index;
  }

  #step(): void {
    const q = this.queue;
    const time = q.peekTime();
    const slot = q.pop();
    const kind = q.kindOf(slot);
    const node = q.nodeOf(slot);
    const peer = q.peerOf(slot);
    const num = q.numOf(slot);
    const ref = q.takeRef(slot);
    if (time > this.#now) {
      this.#now = time;
      this.#sameInstant = 0;
    } else if (++this.#sameInstant > SimLimits.maxEventsAtOneInstant) {
      assert(false, `time advances: ${this.#sameInstant} events at t=${time} ms (a machine waking itself?)`);
    }
    this.stats.events++;
    this.trace.number(time);
    this.trace.word((kind << 29) ^ node);
    this.trace.word(peer);
    if (kind === Kind.Deliver) this.#deliver(node, peer, num, ref as Uint8Array);
    else if (kind === Kind.Wake) this.#wake(node);
    else (ref as () => void)();
  }

  #wake(i: number): void {
    this.#timerSlot[i] = -1;
    const machine = this.machines[i] as M; // a crash cancels the wake-up
    this.stats.wakeups++;
    machine.handleTimeout(this.clocks.wake(i, this.#now, this.#wantLocal[i] as number) as Millis);
    this.#drain(i, machine);
  }

  #deliver(to: number, sender: number, num: number, arrived: Uint8Array): void {
    let claimed = num >> 2;
    let bytes = arrived;
    const machine = this.machines[to];
    if (machine === undefined) return this.#drop('node-down', claimed, to);
    if (sender >= 0 && !this.net.connected(sender, to)) return this.#drop('partition', claimed, to);
    const adversary = this.adversaries[to];
    if (adversary?.inbound !== undefined && (num & INBOUND_DONE) === 0) {
      const m = this.#intercept(claimed, to, bytes);
      if (!adversary.inbound(m, adversary)) return this.#drop('adversary', claimed, to);
      claimed = this.checkIndex(m.from);
      bytes = m.bytes;
      if (m.delayMs > 0) {
        const flags = (num & 3) | INBOUND_DONE;
        this.queue.push(this.#now + m.delayMs, Kind.Deliver, to, sender, (claimed << 2) | flags, bytes);
        return;
      }
    }
    this.stats.delivered++;
    if (this.#onDeliver.length > 0) {
      for (const o of this.#onDeliver) o.deliver?.(claimed, to, bytes, this.now);
      if (this.machines[to] !== machine) return; // an observer crashed it
    }
    machine.handleReceive(this.ids[claimed] as NodeId, bytes, this.clocks.local(to, this.#now) as Millis);
    this.#drain(to, machine);
  }

  #drain(i: number, machine: M): void {
    for (let n = 0; n < SimLimits.maxOutputsPerDrain; n++) {
      const output = machine.pollOutput();
      if (output.type === 'transmit') this.#transmit(i, output.to, output.bytes);
      else if (output.type === 'event') this.#event(i, output.event);
      else return this.#setTimer(i, output.at);
      if (this.machines[i] !== machine) return; // an observer crashed it mid-drain
    }
    assert(false, `node ${i} ends a drain within ${SimLimits.maxOutputsPerDrain} outputs`);
  }

  #transmit(i: number, toId: NodeId, sent: Uint8Array): void {
    this.stats.sent++;
    const to = this.idTable.indexOf(toId);
    if (to < 0) return this.#drop('unknown-node', i, -1);
    const bytes = this.#copy ? sent.slice() : sent;
    this.trace.word(to);
    this.trace.bytes(bytes);
    const adversary = this.adversaries[i];
    if (adversary?.outbound === undefined) return this.#send(i, to, i, bytes, 0);
    const m = this.#intercept(i, to, bytes);
    if (!adversary.outbound(m, adversary)) return this.#drop('adversary', i, to);
    this.#send(i, this.checkIndex(m.to), this.checkIndex(m.from), m.bytes, m.delayMs > 0 ? m.delayMs : 0);
  }

  #send(sender: number, to: number, claimed: number, bytes: Uint8Array, extraMs: number): void {
    const net = this.net;
    if (!net.connected(sender, to)) return this.#drop('partition', claimed, to);
    const depart = net.depart(sender, bytes.length, this.#now);
    if (depart < 0) return this.#drop('egress-full', claimed, to);
    if (net.lost()) return this.#drop('loss', claimed, to);
    const start = depart + extraMs;
    this.queue.push(start + net.latency(sender, to), Kind.Deliver, to, sender, claimed << 2, bytes);
    if (net.duplicated()) {
      this.stats.duplicated++;
      // Its own copy: a receiver may decrypt in place.
      this.queue.push(start + net.latency(sender, to), Kind.Deliver, to, sender, claimed << 2, bytes.slice());
    }
  }

  #event(i: number, event: E): void {
    this.trace.word(0x45000000 ^ i);
    const write = this.#program.persist?.(event);
    if (write !== undefined) this.#write(i, write);
    for (const o of this.#onEvent) o.event?.(i, event, this.now);
  }

  #write(i: number, write: StoreWrite): void {
    let store = this.stores[i];
    if (store === undefined) store = this.stores[i] = new Map();
    if (write.value === undefined) store.delete(write.key);
    else store.set(write.key, write.value.slice());
  }

  /** Moves node i's single wake-up to when its clock reads `at` (or cancels it). */
  #setTimer(i: number, at: Millis | undefined): void {
    const slot = this.#timerSlot[i] as number;
    if (at === undefined) {
      if (slot >= 0) this.queue.cancel(slot);
      this.#timerSlot[i] = -1;
      this.#wantLocal[i] = NaN;
      return;
    }
    assert(at === at, `node ${i} asks for a wake-up at a time, not NaN`);
    this.#wantLocal[i] = at;
    const global = Math.max(this.clocks.toGlobal(i, at), this.#now);
    if (slot < 0) this.#timerSlot[i] = this.queue.push(global, Kind.Wake, i, -1, 0, undefined);
    else if (this.queue.timeOf(slot) !== global) this.queue.reschedule(slot, global);
  }

  #drawIds(n: number): NodeId[] {
    const program = this.#program;
    const ids = new Array<NodeId>(n);
    const block = new Uint8Array(program.identity === undefined ? 32 * n : 0); // one buffer, not one per id
    for (let i = 0; i < n; i++) {
      const rng = this.#nodesRng.fork(`node-${i}/identity`);
      const own = program.identity?.(rng, i);
      if (own !== undefined) ids[i] = own;
      else (ids[i] = block.subarray(32 * i, 32 * i + 32) as NodeId).set(rng.bytes(32));
    }
    return ids;
  }

  #intercept(from: number, to: number, bytes: Uint8Array): Intercepted {
    const m = this.#scratch;
    m.from = from;
    m.to = to;
    m.bytes = bytes;
    m.delayMs = 0;
    return m;
  }

  #drop(reason: DropReason, from: number, to: number): void {
    this.stats.dropped[reason]++;
    for (const o of this.#onDrop) o.drop?.(from, to, reason, this.now);
  }
}
