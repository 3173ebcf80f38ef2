import type { Millis, NodeId, Rng } from '@postern/core';
import { type Distribution, draw } from './distributions.ts';

/**
 * Adversaries: plug-in behaviours wrapped around one node's outputs (outbound) or inputs (inbound).
 * A hook sees one message in a scratch object it may change — the bytes (lies), the claimed sender
 * (forgery), the extra delay — and returns false to drop it. Hooks compose left to right.
 * The machine inside an adversarial node is unchanged: the same production code, lied around.
 */
export interface Intercepted {
  /** The sender the receiver will see (a node index): change it to forge. */
  from: number;
  /** The destination (outbound hooks only: inbound messages have arrived). */
  to: number;
  bytes: Uint8Array;
  /** Extra delay in ms before the message continues. */
  delayMs: number;
}

/** What an adversary can see and do besides rewriting the message in hand. */
export interface AdversaryWorld {
  readonly now: Millis;
  readonly nodeCount: number;
  id(index: number): NodeId;
  indexOf(id: Uint8Array): number;
  /** Delivers bytes to `to` as if sent by `from`, after delayMs, bypassing the network model. */
  inject(from: number, to: number, bytes: Uint8Array, delayMs?: number): void;
}

export interface AdversaryContext {
  /** The adversarial node. */
  readonly self: number;
  /** This node's adversary stream, forked from the seed. */
  readonly rng: Rng;
  readonly world: AdversaryWorld;
}

/** Returns false to drop the message. */
export type Hook = (message: Intercepted, ctx: AdversaryContext) => boolean;

export interface Adversary {
  readonly outbound?: Hook;
  readonly inbound?: Hook;
}

export type Direction = 'outbound' | 'inbound';

/** Applies adversaries in order; a drop stops the chain. */
export function compose(...adversaries: readonly Adversary[]): Adversary {
  const chain = (hooks: Hook[]): Hook | undefined =>
    hooks.length === 0 ? undefined : (m, ctx) => hooks.every((hook) => hook(m, ctx));
  const outbound = chain(adversaries.flatMap((a) => (a.outbound ? [a.outbound] : [])));
  const inbound = chain(adversaries.flatMap((a) => (a.inbound ? [a.inbound] : [])));
  return { ...(outbound && { outbound }), ...(inbound && { inbound }) };
}

function on(direction: Direction, hook: Hook): Adversary {
  return direction === 'outbound' ? { outbound: hook } : { inbound: hook };
}

/** Drops messages with the given probability (1: a black hole). `where` picks which ones. */
export function drop(
  probability = 1,
  direction: Direction = 'outbound',
  where: (m: Intercepted) => boolean = () => true,
): Adversary {
  return on(direction, (m, ctx) => !(where(m) && ctx.rng.bool(probability)));
}

/** Holds messages back by a fixed or drawn delay. */
export function delay(by: number | Distribution, direction: Direction = 'outbound'): Adversary {
  return on(direction, (m, ctx) => {
    m.delayMs += typeof by === 'number' ? by : draw(by, ctx.rng);
    return true;
  });
}

/** Replies with lies: rewrites the bytes of outgoing messages (return them unchanged to pass one by). */
export function lie(
  rewrite: (bytes: Uint8Array, m: Intercepted, ctx: AdversaryContext) => Uint8Array,
): Adversary {
  return {
    outbound: (m, ctx) => {
      m.bytes = rewrite(m.bytes, m, ctx);
      return true;
    },
  };
}

/** Forges: outgoing messages claim to come from `victim` (with the given probability). */
export function impersonate(victim: number, probability = 1): Adversary {
  return {
    outbound: (m, ctx) => {
      if (ctx.rng.bool(probability)) m.from = victim;
      return true;
    },
  };
}

/** Forges: every outgoing message also goes, claiming to come from `victim`, to `target(m)` (if any). */
export function forgeCopies(victim: number, target: (m: Intercepted) => number | undefined): Adversary {
  return {
    outbound: (m, ctx) => {
      const to = target(m);
      if (to !== undefined) ctx.world.inject(victim, to, m.bytes.slice(), m.delayMs);
      return true;
    },
  };
}
