import { it } from 'node:test';
import type { Machine, Millis, NodeId, Output } from '@postern/core';
import { type NodeContext, type NodeProgram, World, type WorldOptions } from '../src/index.ts';

/**
 * A seed for a simulation test: SIM_SEED from the environment (to try other seeds), else the
 * test's own. Every simulation test prints it, and a failure adds the command that reruns it.
 */
export function seedOr(fallback: number): number {
  const text = process.env['SIM_SEED'];
  return text === undefined ? fallback : Number(text);
}

/** A simulation test: prints SEED=…, and on failure the command that reproduces it. */
export function simIt(name: string, seed: number, reproduce: string, fn: (seed: number) => void): void {
  it(name, (t) => {
    t.diagnostic(`SEED=${seed}`);
    try {
      fn(seed);
    } catch (error) {
      if (error instanceof Error) error.message += `\nSEED=${seed}\nreproduce: ${reproduce}`;
      throw error;
    }
  });
}

/** The command that reruns one test file with a given seed. */
export function rerun(file: string, seed: number): string {
  return `SIM_SEED=${seed} npm test -- packages/sim/test/${file}`;
}

export type ProbeEvent =
  | { type: 'received'; from: NodeId; bytes: Uint8Array }
  | { type: 'woke'; now: Millis }
  | { type: 'persist'; key: string; value: Uint8Array | undefined };

/** A test machine: sends what it is told, records what arrives and when, wakes when asked. */
export class Probe implements Machine<ProbeEvent> {
  readonly node: NodeContext;
  readonly received: { from: NodeId; bytes: Uint8Array; now: Millis }[] = [];
  readonly wakes: Millis[] = [];
  readonly #outputs: Output<ProbeEvent>[] = [];
  #timer: Millis | undefined;

  constructor(node: NodeContext) {
    this.node = node;
  }

  send(to: NodeId, bytes: Uint8Array): void {
    this.#outputs.push({ type: 'transmit', to, bytes });
  }

  wakeAt(at: Millis | undefined): void {
    this.#timer = at;
  }

  persist(key: string, value: Uint8Array | undefined): void {
    this.#outputs.push({ type: 'event', event: { type: 'persist', key, value } });
  }

  handleReceive(from: NodeId, bytes: Uint8Array, now: Millis): void {
    this.received.push({ from, bytes, now });
    this.#outputs.push({ type: 'event', event: { type: 'received', from, bytes } });
  }

  handleTimeout(now: Millis): void {
    if (this.#timer === undefined || now < this.#timer) return;
    this.#timer = undefined;
    this.wakes.push(now);
    this.#outputs.push({ type: 'event', event: { type: 'woke', now } });
  }

  pollOutput(): Output<ProbeEvent> {
    return this.#outputs.shift() ?? { type: 'timeout', at: this.#timer };
  }
}

export const probeProgram: NodeProgram<ProbeEvent, Probe> = {
  create: (node) => new Probe(node),
  persist: (event) => (event.type === 'persist' ? event : undefined),
};

/** A network with no randomness in its delays: every message takes exactly minLatencyMs. */
export const fixedLatency = (ms: number) => ({ minLatencyMs: ms, nodeLatencyMaxMs: 0, tailMaxMs: 0 });

export function probeWorld(
  seed: number,
  nodes: number,
  options: Omit<WorldOptions<ProbeEvent, Probe>, 'seed' | 'nodes' | 'program'> = {},
): World<ProbeEvent, Probe> {
  return new World({ seed, nodes, program: probeProgram, ...options });
}

/** Node i's running probe (the test's own bug if it is down). */
export function probe(world: World<ProbeEvent, Probe>, i: number): Probe {
  const machine = world.machine(i);
  if (machine === undefined) throw new Error(`node ${i} is down`);
  return machine;
}

/** Has node `from` send each payload to node `to`, now. */
export function sendAll(
  world: World<ProbeEvent, Probe>,
  from: number,
  to: number,
  payloads: Uint8Array[],
): void {
  world.act(from, (m) => {
    for (const bytes of payloads) m.send(world.id(to), bytes);
  });
}

/** n payloads of `size` bytes (≥ 4), each starting with its index, little-endian. */
export function numbered(n: number, size = 4): Uint8Array[] {
  return Array.from({ length: n }, (_, i) => payload(i, size));
}

export function payload(i: number, size = 4): Uint8Array {
  const bytes = new Uint8Array(size);
  new DataView(bytes.buffer).setUint32(0, i, true);
  return bytes;
}

export function indexOf(bytes: Uint8Array): number {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, true);
}
