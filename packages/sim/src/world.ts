import type { Machine, Millis, NodeId, Rng } from '@postern/core';
import type { Adversary, AdversaryWorld } from './adversary.ts';
import { Churn } from './churn.ts';
import type { Distribution } from './distributions.ts';
import { EMPTY_STORE, Engine } from './engine.ts';
import type { NetworkOptions } from './network.ts';

export type { WorldOptions, WorldObserver, WorldStats } from './engine.ts';

/**
 * A deterministic world: `nodes` production machines on a virtual network, all driven from one
 * seed (node ids, network draws, clocks, adversaries, each a fork of it). The event loop is in
 * `Engine`; this class holds what scenarios and checkers use: inspection, and the faults as verbs —
 * partition, isolate, cut, clog, heal, crash, restart, churn, clock steps and drift, adversaries.
 * The network model itself holds no scripts.
 */
export class World<E, M extends Machine<E>> extends Engine<E, M> implements AdversaryWorld {
  readonly #churns: Churn[] = [];

  get network(): NetworkOptions {
    return this.net.options;
  }

  id(index: number): NodeId {
    return this.ids[this.checkIndex(index)] as NodeId;
  }

  /** The index of the node with this id, or -1. */
  indexOf(id: Uint8Array): number {
    return this.idTable.indexOf(id);
  }

  /** The running machine, for checkers to inspect; undefined while the node is down. */
  machine(index: number): M | undefined {
    return this.machines[this.checkIndex(index)];
  }

  isUp(index: number): boolean {
    return this.machine(index) !== undefined;
  }

  /** What node i has persisted. */
  store(index: number): ReadonlyMap<string, Uint8Array> {
    return this.stores[this.checkIndex(index)] ?? EMPTY_STORE;
  }

  /** Node i's clock now. */
  localNow(index: number): Millis {
    return this.clocks.local(this.checkIndex(index), this.now) as Millis;
  }

  // ---- Network faults (scripted by scenarios; the network model stays generic)

  /**
   * Splits the network: each side is a group whose nodes reach only each other; nodes on no side
   * form one more group. `partition(side)` splits in two.
   */
  partition(...sides: readonly (readonly number[])[]): void {
    const rest = this.net.newGroup();
    for (let i = 0; i < this.nodeCount; i++) this.net.setGroup(i, rest);
    for (const side of sides) {
      const group = this.net.newGroup();
      for (const i of side) this.net.setGroup(this.checkIndex(i), group);
    }
    this.trace.word(0x50415254);
  }

  /** Cuts node i off from every other node (the others keep their groups). */
  isolate(index: number): void {
    this.net.setGroup(this.checkIndex(index), this.net.newGroup());
    this.trace.word(0x49534f00 ^ index);
  }

  /** Cuts (or restores) the one link between a and b. */
  cut(a: number, b: number, isCut = true): void {
    this.net.cut(this.checkIndex(a), this.checkIndex(b), isCut);
  }

  /** Inflates the delay between a and b by ms (0 unclogs). */
  clog(a: number, b: number, ms: number): void {
    this.net.clog(this.checkIndex(a), this.checkIndex(b), ms);
  }

  /** Ends every partition, cut and clog. Loss, duplication and the rest stay as configured. */
  heal(): void {
    this.net.heal();
    this.trace.word(0x4845414c);
  }

  configureNetwork(options: Partial<NetworkOptions>): void {
    this.net.configure(options);
  }

  /** Overrides node i's uplink bandwidth (undefined: back to the network option). */
  setEgress(index: number, bytesPerSec: number | undefined): void {
    this.net.setEgress(this.checkIndex(index), bytesPerSec);
  }

  /** The minimum latency of the link between a and b (tests compute expected arrival times with it). */
  linkMinMs(a: number, b: number): number {
    return this.net.linkMinMs(this.checkIndex(a), this.checkIndex(b));
  }

  // ---- Node faults

  /**
   * Stops node i: its machine, undrained outputs and wake-up are gone; its store stays. Messages it
   * already handed to the network still arrive; messages to it are dropped while it is down.
   * False if it was down.
   */
  crash(index: number): boolean {
    if (!this.isUp(index)) return false;
    this.halt(index);
    this.net.resetEgress(index);
    this.stats.crashes++;
    return true;
  }

  /** Starts node i again from its store (or for the first time: a join). False if already up. */
  restart(index: number): boolean {
    this.start();
    if (this.isUp(index)) return false;
    if ((this.incarnation[index] as number) >= 0) this.stats.restarts++;
    this.boot(index);
    return true;
  }

  /** Crashes and restarts these nodes, up and down for durations drawn per cycle, until stopChurn(). */
  churn(nodes: readonly number[], upMs: Distribution, downMs: Distribution, rng: Rng): void {
    for (const i of nodes) this.checkIndex(i);
    this.#churns.push(new Churn(this, nodes, { upMs, downMs }, rng));
  }

  stopChurn(): void {
    for (const churn of this.#churns) churn.stop();
    this.#churns.length = 0;
  }

  /** Restarts every node that was up once and is down now. */
  restartCrashed(): void {
    for (let i = 0; i < this.nodeCount; i++) if ((this.incarnation[i] as number) >= 0) this.restart(i);
  }

  // ---- Clocks

  /** Steps node i's clock (negative: backwards; its `now` holds still until it catches up). */
  stepClock(index: number, deltaMs: number): void {
    this.clocks.step(this.checkIndex(index), this.now, deltaMs);
    this.retime(index);
  }

  setDrift(index: number, ppm: number): void {
    this.clocks.setDrift(this.checkIndex(index), this.now, ppm);
    this.retime(index);
  }

  driftPpm(index: number): number {
    return this.clocks.driftPpm(this.checkIndex(index));
  }

  // ---- Adversaries

  /** Wraps node i's outputs and inputs in an adversary (undefined removes it). */
  setAdversary(index: number, adversary: Adversary | undefined): void {
    this.checkIndex(index);
    this.adversaries[index] = adversary && {
      ...adversary,
      self: index,
      rng: this.adversaryRng.fork(`node-${index}`),
      world: this,
    };
  }
}
