import {
  type MessagingId,
  type Millis,
  type NodeId,
  type Output,
  type Rng,
  UsageError,
  fromHex,
  toHex,
  unwrap,
} from '@postern/core';
import type { CryptoProvider } from '@postern/crypto';
import { type Identity, type IdentityProfile, encodeIdentityRecord, updateIdentity } from '@postern/identity';
import type { ReplicantEvent } from './events.ts';
import type { ReplicantLimits } from './limits.ts';
import { RID_MAX, type ReplicantMessage, encodeReplicantMessage } from './messages.ts';
import type { Contact, Pending, Peers } from './peers.ts';
import type { Table } from './state.ts';
import { Timers } from './timers.ts';

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
export type RequestBody = DistributiveOmit<ReplicantMessage, 'rid'>;
export type PendingBody = DistributiveOmit<Pending, 'to' | 'deadline'>;

/**
 * What the parts of the Replicant machine share (sending, holding, receiving, roles): the node's
 * identity and clock offset, contacts, timers, requests in flight, and the output queue. It is the
 * machine's plumbing, not a protocol role: it transmits, persists and emits in the order it is told.
 */
export class ReplicantCore {
  readonly crypto: CryptoProvider;
  readonly limits: ReplicantLimits;
  readonly node: NodeId;
  readonly peers: Peers = new Map();
  readonly timers = new Timers();
  readonly pending = new Map<number, Pending>();
  readonly wallOffset: number;
  identity: Identity;
  /** Where this node listens (set by the runtime). */
  addrs: readonly string[] = [];
  readonly #rng: Rng;
  readonly #outputs: Output<ReplicantEvent>[] = [];
  /** What is in flight, by what it is about (see inFlightKey): at most one request each. */
  readonly #inFlightKeys = new Set<string>();
  #nextRid: number;

  constructor(options: {
    crypto: CryptoProvider;
    limits: ReplicantLimits;
    node: NodeId;
    identity: Identity;
    rng: Rng;
    wallClockOffsetMs: number;
  }) {
    this.crypto = options.crypto;
    this.limits = options.limits;
    this.node = options.node;
    this.identity = options.identity;
    this.#rng = options.rng;
    this.wallOffset = options.wallClockOffsetMs;
    this.#nextRid = 1 + options.rng.int(RID_MAX - 1);
  }

  get messagingId(): MessagingId {
    return this.identity.messagingId;
  }

  /** Wall-clock ms (whole: signed times are integers; a simulated clock's `now` may have a fraction). */
  wall(now: Millis): number {
    return Math.floor(now + this.wallOffset);
  }

  /** Sends a request and remembers it; false (nothing sent) when too many are in flight. */
  request(to: NodeId, message: RequestBody, pending: PendingBody, now: Millis): boolean {
    if (this.pending.size >= this.limits.rpcsInFlightMax) {
      // No room: the work is tried again once some requests have ended (an outbox message has its own retry).
      const retry = retryTimer(pending);
      if (retry !== undefined) this.timers.setEarlier(retry, now + this.limits.rpcTimeoutMs);
      return false;
    }
    let rid = this.#nextRid;
    while (this.pending.has(rid)) rid = rid >= RID_MAX ? 1 : rid + 1;
    this.#nextRid = rid >= RID_MAX ? 1 : rid + 1;
    const deadline = now + this.limits.rpcTimeoutMs;
    const full = { ...pending, to, deadline } as Pending;
    this.pending.set(rid, full);
    this.#inFlightKeys.add(inFlightKey(full));
    this.timers.set(`rpc:${rid}`, deadline);
    this.#transmit(to, { ...message, rid });
    return true;
  }

  /** A request got its answer or timed out: forgotten. */
  settle(rid: number, pending: Pending): void {
    this.pending.delete(rid);
    this.#inFlightKeys.delete(inFlightKey(pending));
    this.timers.clear(`rpc:${rid}`);
  }

  inFlight(key: string): boolean {
    return this.#inFlightKeys.has(key);
  }

  reply(to: NodeId, message: ReplicantMessage): void {
    this.#transmit(to, message);
  }

  refuse(to: NodeId, rid: number, code: string, misbehaved = false, retryMs = 0): void {
    if (misbehaved) this.misbehaved(to, code);
    this.#transmit(to, { t: 'refused', rid, code, retryMs });
  }

  /** The delay before a retry: doubling from retryMinMs to retryMaxMs, jittered so senders do not retry in step. */
  backoff(tries: number): number {
    const base = Math.min(this.limits.retryMaxMs, this.limits.retryMinMs * 2 ** Math.min(tries - 1, 20));
    return Math.floor(base * (0.75 + this.#rng.float() / 2));
  }

  /** A new document (seq + 1) with these profile changes, persisted before anything relies on it. */
  reviseIdentity(changes: Partial<IdentityProfile>): void {
    this.identity = updateIdentity(this.crypto, this.identity, changes);
    this.persist('self', 'doc', encodeIdentityRecord(this.identity.document));
  }

  persist(table: Table, key: string, value: Uint8Array | undefined): void {
    this.emit({ type: 'persist', table, key, value });
  }

  emit(event: ReplicantEvent): void {
    this.#outputs.push({ type: 'event', event });
  }

  misbehaved(peer: NodeId, code: string): void {
    this.emit({ type: 'peer-misbehaved', peer, code });
  }

  poll(): Output<ReplicantEvent> {
    return this.#outputs.shift() ?? { type: 'timeout', at: this.timers.next() };
  }

  requireContact(id: MessagingId): Contact {
    const contact = this.peers.get(toHex(id));
    if (contact === undefined)
      throw new UsageError('REPLICANT_NOT_A_CONTACT', 'this id is not one of your contacts');
    return contact;
  }

  #transmit(to: NodeId, message: ReplicantMessage): void {
    this.#outputs.push({ type: 'transmit', to, bytes: encodeReplicantMessage(message) });
  }
}

/** A messaging id from one of this machine's own hex keys (always valid hex: a failure is a bug). */
export function hexId(hex: string): MessagingId {
  return unwrap(fromHex(hex)) as MessagingId;
}

/** The timer that redoes a request's work when it could not be sent (see ReplicantMachine's timers). */
function retryTimer(pending: PendingBody): string | undefined {
  switch (pending.kind) {
    case 'presence':
      return `presence:${pending.peer}`;
    case 'held':
      return `deliver:${pending.user}`;
    case 'receipts':
      return `receipts:${pending.sender}`;
    case 'role':
      return `role:${pending.peer}`;
    case 'hold':
    case 'direct':
      return undefined;
  }
}

function inFlightKey(pending: Pending): string {
  switch (pending.kind) {
    case 'presence':
      return `presence:${pending.peer}:${pending.at}`;
    case 'hold':
      return `hold:${pending.key}:${pending.replicant}`;
    case 'direct':
      return `direct:${pending.key}`;
    case 'held':
      return `held:${pending.key}`;
    case 'receipts':
      return `receipts:${pending.sender}`;
    case 'role':
      return `role:${pending.peer}:${pending.which}`;
  }
}
