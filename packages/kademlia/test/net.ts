// A deterministic in-memory network of Kademlia machines for tests: messages are delivered in
// order, one step at a time; time jumps to the next timer when nothing is in flight; messages to
// dead nodes are lost. A node learns a sender's addresses when its first message arrives, as a
// link coming up would tell it.
import assert from 'node:assert/strict';
import { type Millis, type NodeId, Rng, toHex } from '@postern/core';
import { createSodiumProvider } from '@postern/crypto';
import {
  type Contact,
  KademliaMachine,
  type KademliaEvent,
  type KademliaLimits,
  SIM_WALL_EPOCH_MS,
} from '../src/index.ts';

export class Net {
  readonly rng: Rng;
  readonly crypto;
  readonly nodes = new Map<string, KademliaMachine>();
  readonly contacts = new Map<string, Contact>();
  readonly events = new Map<string, KademliaEvent[]>();
  readonly dead = new Set<string>();
  /** Called on each message a node is about to receive; returning bytes replaces it (an adversary). */
  tamper: ((from: NodeId, to: NodeId, bytes: Uint8Array) => Uint8Array) | undefined;
  now = 0 as Millis;
  readonly #queue: { from: NodeId; to: NodeId; bytes: Uint8Array }[] = [];
  readonly #timers = new Map<string, number | undefined>();
  readonly #linked = new Set<string>();

  readonly limits: Partial<KademliaLimits>;

  constructor(seed: string, limits: Partial<KademliaLimits> = {}) {
    this.limits = limits;
    this.rng = Rng.fromSeed(seed);
    const rng = this.rng.fork('crypto');
    this.crypto = createSodiumProvider({ random: (n) => rng.bytes(n) });
  }

  add(): KademliaMachine {
    const id = this.rng.bytes(32) as NodeId;
    const machine = new KademliaMachine({
      self: id,
      crypto: this.crypto,
      rng: this.rng.fork(toHex(id)),
      wallClockOffsetMs: SIM_WALL_EPOCH_MS,
      limits: this.limits,
      now: this.now,
    });
    const key = toHex(id);
    this.nodes.set(key, machine);
    this.contacts.set(key, { id, addresses: [`tcp://127.0.0.1:${7000 + this.nodes.size}`] });
    this.events.set(key, []);
    return machine;
  }

  contact(machine: KademliaMachine): Contact {
    return this.contacts.get(toHex(machine.self)) as Contact;
  }

  /** Drains a machine's outputs after an input. */
  drain(machine: KademliaMachine): void {
    const key = toHex(machine.self);
    for (let i = 0; i < 100_000; i++) {
      const output = machine.pollOutput();
      if (output.type === 'timeout') return void this.#timers.set(key, output.at);
      if (output.type === 'event') (this.events.get(key) as KademliaEvent[]).push(output.event);
      else this.#queue.push({ from: machine.self, to: output.to, bytes: output.bytes });
    }
    assert.fail('a machine kept producing output');
  }

  /**
   * Runs until no message is in flight and no timer is due within `idleMs` (RPC timeouts are; the
   * machines' maintenance ticks, minutes away, are not), or `maxSteps`.
   */
  run(maxSteps = 1_000_000, idleMs = 60_000): void {
    for (let step = 0; step < maxSteps; step++) {
      const message = this.#queue.shift();
      if (message !== undefined) {
        this.#deliver(message);
        continue;
      }
      const next = this.#nextTimer();
      if (next === undefined || next[1] > this.now + idleMs) return;
      this.now = Math.max(this.now, next[1]) as Millis;
      const machine = this.nodes.get(next[0]) as KademliaMachine;
      machine.handleTimeout(this.now);
      this.drain(machine);
    }
    assert.fail(`the network still runs after ${maxSteps} steps`);
  }

  /** The last event of `type` at `machine`. */
  last<T extends KademliaEvent['type']>(
    machine: KademliaMachine,
    type: T,
  ): Extract<KademliaEvent, { type: T }> {
    const events = this.events.get(toHex(machine.self)) as KademliaEvent[];
    const found = events.filter((e) => e.type === type).at(-1);
    assert.ok(found, `no ${type} event`);
    return found as Extract<KademliaEvent, { type: T }>;
  }

  #deliver({ from, to, bytes }: { from: NodeId; to: NodeId; bytes: Uint8Array }): void {
    const key = toHex(to);
    const machine = this.nodes.get(key);
    if (machine === undefined || this.dead.has(key) || this.dead.has(toHex(from))) return;
    const link = `${key}<${toHex(from)}`;
    if (!this.#linked.has(link)) {
      this.#linked.add(link);
      machine.peerConnected(this.contacts.get(toHex(from)) as Contact, this.now);
    }
    machine.handleReceive(from, this.tamper ? this.tamper(from, to, bytes) : bytes, this.now);
    this.drain(machine);
  }

  #nextTimer(): [string, number] | undefined {
    let best: [string, number] | undefined;
    for (const [key, at] of this.#timers) {
      if (at === undefined || this.dead.has(key)) continue;
      if (best === undefined || at < best[1]) best = [key, at];
    }
    return best;
  }
}
