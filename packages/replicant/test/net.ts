// A deterministic in-memory network of Replicant machines for tests: messages take 5 ms, time
// jumps to the next timer when nothing is in flight, messages to nodes that are down are lost.
// Each node's persist events go to its own store, from which a crashed node restarts.
import assert from 'node:assert/strict';
import { type Millis, type NodeId, Rng, toHex } from '@postern/core';
import { createSodiumProvider } from '@postern/crypto';
import { type Identity, createIdentity } from '@postern/identity';
import {
  type ReplicantEvent,
  ReplicantMachine,
  type ReplicantLimits,
  type Row,
  type Table,
} from '../src/index.ts';

export const WALL_EPOCH_MS = 1_790_000_000_000;
const LATENCY_MS = 5;

export interface User {
  readonly name: string;
  readonly identity: Identity;
  readonly node: NodeId;
  machine: ReplicantMachine | undefined;
  readonly store: Map<string, Row>;
  readonly events: ReplicantEvent[];
  timer: number | undefined;
}

interface InFlight {
  readonly at: number;
  readonly from: NodeId;
  readonly to: NodeId;
  readonly bytes: Uint8Array;
}

export class Net {
  readonly rng: Rng;
  readonly crypto;
  readonly users = new Map<string, User>();
  readonly #byNode = new Map<string, User>();
  readonly #queue: InFlight[] = [];
  readonly limits: Partial<ReplicantLimits>;
  /** Sees each message about to be delivered: returns the bytes to deliver, or undefined to drop it. */
  intercept: ((from: User, to: User, bytes: Uint8Array) => Uint8Array | undefined) | undefined;
  now = 0 as Millis;

  constructor(seed: string, limits: Partial<ReplicantLimits> = {}) {
    this.rng = Rng.fromSeed(seed);
    const rng = this.rng.fork('crypto');
    this.crypto = createSodiumProvider({ random: (n) => rng.bytes(n) });
    this.limits = limits;
  }

  add(name: string): User {
    const user: User = {
      name,
      identity: createIdentity(this.crypto, { label: name }),
      node: this.rng.bytes(32) as NodeId,
      machine: undefined,
      store: new Map(),
      events: [],
      timer: undefined,
    };
    this.users.set(name, user);
    this.#byNode.set(toHex(user.node), user);
    this.start(user);
    return user;
  }

  /** Starts (or restarts) a node from what it persisted, and announces it to its contacts. */
  start(user: User): void {
    assert.equal(user.machine, undefined, `${user.name} is already up`);
    user.machine = new ReplicantMachine({
      crypto: this.crypto,
      identity: user.identity,
      node: user.node,
      rng: this.rng.fork(`${user.name}/${this.now}`),
      wallClockOffsetMs: WALL_EPOCH_MS,
      now: this.now,
      limits: this.limits,
      rows: [...user.store.values()],
    });
    user.machine.setAddresses([`sim://${user.name}`], this.now);
    user.machine.announce(this.now);
    this.drain(user);
  }

  /** Stops a node at once: its machine and undrained work are gone; its store stays. */
  crash(user: User): void {
    user.machine = undefined;
    user.timer = undefined;
  }

  /** Makes a and b contacts of each other, each knowing the other's reach. */
  befriend(a: User, b: User): void {
    for (const [x, y] of [
      [a, b],
      [b, a],
    ] as const) {
      const added = this.up(x).addContact(this.up(y).identity.document, this.now, {
        reach: { node: y.node, addrs: [`sim://${y.name}`] },
      });
      assert.ok(added.ok);
      this.drain(x);
    }
  }

  up(user: User): ReplicantMachine {
    assert.ok(user.machine, `${user.name} is down`);
    return user.machine;
  }

  /** Runs a command on a node, then drains it. */
  act<T>(user: User, command: (m: ReplicantMachine, now: Millis) => T): T {
    const result = command(this.up(user), this.now);
    this.drain(user);
    return result;
  }

  drain(user: User): void {
    const machine = user.machine;
    if (machine === undefined) return;
    for (let i = 0; i < 100_000; i++) {
      const output = machine.pollOutput();
      if (output.type === 'timeout') return void (user.timer = output.at);
      if (output.type === 'transmit') {
        this.#queue.push({ at: this.now + LATENCY_MS, from: user.node, to: output.to, bytes: output.bytes });
      } else {
        user.events.push(output.event);
        if (output.event.type === 'persist') persist(user.store, output.event);
      }
    }
    assert.fail('a machine kept producing output');
  }

  /** Runs until `untilMs` of virtual time (messages and timers in order), at most `maxSteps`. */
  runUntil(untilMs: number, maxSteps = 200_000): void {
    for (let step = 0; step < maxSteps; step++) {
      const message = this.#queue[0];
      const timer = this.#nextTimer();
      const messageAt = message?.at ?? Infinity;
      const timerAt = timer?.timer ?? Infinity;
      const at = Math.min(messageAt, timerAt);
      if (at > untilMs) {
        this.now = untilMs as Millis;
        return;
      }
      this.now = Math.max(this.now, at) as Millis;
      if (messageAt <= timerAt) this.#deliver(this.#queue.shift() as InFlight);
      else this.#fire(timer as User);
    }
    assert.fail(`the network did not settle within ${maxSteps} steps`);
  }

  /** Runs for `ms` more of virtual time. */
  runFor(ms: number): void {
    this.runUntil(this.now + ms);
  }

  events<T extends ReplicantEvent['type']>(user: User, type: T): Extract<ReplicantEvent, { type: T }>[] {
    return user.events.filter((e): e is Extract<ReplicantEvent, { type: T }> => e.type === type);
  }

  #nextTimer(): User | undefined {
    let next: User | undefined;
    for (const user of this.users.values()) {
      if (user.machine === undefined || user.timer === undefined) continue;
      if (next === undefined || user.timer < (next.timer as number)) next = user;
    }
    return next;
  }

  #fire(user: User): void {
    user.timer = undefined;
    this.up(user).handleTimeout(this.now);
    this.drain(user);
  }

  #deliver(message: InFlight): void {
    const to = this.#byNode.get(toHex(message.to));
    const from = this.#byNode.get(toHex(message.from));
    if (to?.machine === undefined || from === undefined) return;
    const bytes = this.intercept ? this.intercept(from, to, message.bytes) : message.bytes;
    if (bytes === undefined) return;
    to.machine.handleReceive(message.from, bytes, this.now);
    this.drain(to);
  }
}

function persist(
  store: Map<string, Row>,
  event: { table: Table; key: string; value: Uint8Array | undefined },
): void {
  const key = `${event.table}/${event.key}`;
  if (event.value === undefined) store.delete(key);
  else store.set(key, { table: event.table, key: event.key, value: event.value });
}
