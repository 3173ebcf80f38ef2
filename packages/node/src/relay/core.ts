import type { Millis } from '@postern/core';
import type { CryptoProvider } from '@postern/crypto';
import {
  type AuditRow,
  type ClientFailure,
  type RelayClientSession,
  type RelayMessage,
  type RelayRequest,
  parseRelayAddress,
} from '@postern/relay';
import type { ReplicantEvent, ReplicantMachine } from '@postern/replicant';
import type { Limits } from './rows.ts';

/** What the mailbox asks of the runtime, and tells the application. */
export type RelayEvent =
  /** Open a connection to this relay address; answer with `relayUp` or `relayDown`. */
  | { type: 'relay-connect'; relay: string }
  /** The relay is no longer needed (or misbehaved): close its connection. */
  | { type: 'relay-disconnect'; relay: string }
  /** Send this signed request on the relay's connection. */
  | { type: 'relay-send'; relay: string; message: RelayMessage<RelayRequest> }
  /** A relay refused this user's request (no account, quota full, a clock off): one sentence for the person. */
  | { type: 'relay-refused'; relay: string; request: RelayRequest['type']; code: string; error: string }
  /** A relay answered what no honest relay answers; the answer was dropped. */
  | { type: 'relay-misbehaved'; relay: string; reason: string }
  /** The end of `audit`: per record, what this user's relays charged beside what was acknowledged. */
  | {
      type: 'relay-audit';
      audit: number;
      rows: AuditRow[];
      /** Relays that could not be asked, or never answered. */
      unreachable: string[];
      /** Relays that answered part of their report by the deadline (their part is in the rows). */
      partial: string[];
    }
  | { type: 'persist'; table: 'relay'; key: string; value: Uint8Array | undefined };

/** What each request on a relay connection was for. */
export type Request =
  | { kind: 'write'; key: string }
  | { kind: 'ack'; id: string }
  | { kind: 'read'; path: string; tries: number; deferrals: number }
  /** A delete: of a record this user took (no key), or of its own message's record (its outbox key). */
  | { kind: 'delete'; key?: string }
  /** A cheap request on a quiet connection: keeps a Noise link from idling out, finds a dead one. */
  | { kind: 'probe' }
  | { kind: 'listen' }
  | { kind: 'usage'; audit: number };

/** One relay address the node connects to. */
export interface Link {
  readonly address: string;
  /** The relay's key (and in hex): two addresses of one relay (ws and tcp) share it. */
  readonly key: Uint8Array;
  readonly keyHex: string;
  readonly session: RelayClientSession;
  state: 'connecting' | 'up' | 'down';
  /** Dials in a row that did not lead to a good answer (the backoff doubles with each). */
  failures: number;
  /** When a link that is down is dialled again (monotonic). */
  retryAt: number;
  /** No writes before this (the relay said full, no account, or that our clock is off). */
  writesAfter: number;
  /** When a listen that failed is asked for again. */
  listenAt: number | undefined;
  /** Answers no honest relay gives, on this connection. */
  misbehaviour: number;
  readonly requests: Map<string, Request>;
  /** When a request was last sent (a quiet connection is probed). */
  lastSentAt: number;
  /** Requests in a row that timed out on an open connection (it is cut after a few). */
  timeouts: number;
  /** Pushed paths waiting for a read, oldest first, with the tries and deferrals so far. */
  readonly toRead: Map<string, { tries: number; deferrals: number }>;
  /** Records taken (or had another way) waiting for their delete to be sent, by record id (hex). */
  readonly toDelete: Map<string, Uint8Array>;
  /** Records left for later (a full inbox, an envelope from the future), read again when due. */
  readonly deferred: Map<string, { deferrals: number; at: number; full: boolean }>;
  deferredAt: number | undefined;
  reads: number;
  /** Paths were dropped for want of room: once the queues drain, a fresh connection's backfill brings them. */
  overflowed: boolean;
  /** Messages (outbox keys) this relay refused for good: not written to it again. */
  readonly refusedKeys: Set<string>;
}

/** Failures that say "not now" (the relay is busy, an answer was lost), not "never". */
export function transient(failure: ClientFailure): boolean {
  return TRANSIENT.has(failure.code);
}

const TRANSIENT: ReadonlySet<string> = new Set([
  'RELAY_CLIENT_TIMEOUT',
  'RELAY_CLIENT_TOO_MANY_REQUESTS',
  'RELAY_BUSY',
  'RELAY_UNAVAILABLE',
]);

/** Refusals that concern the relay, not one record: it gets no writes for a while, and the user is told. */
export const RELAY_WIDE: ReadonlySet<string> = new Set([
  'RELAY_QUOTA_FULL',
  'RELAY_NO_ACCOUNT',
  'RELAY_STALE',
]);

/** What the mailbox's parts share: the links, the Replicant machine, and the way out. */
export class MailboxCore {
  readonly links = new Map<string, Link>();
  readonly crypto: CryptoProvider;
  readonly m: ReplicantMachine;
  readonly limits: Limits;
  readonly emit: (event: RelayEvent | ReplicantEvent) => void;
  /** Closes a link and dials it again at once (set by the mailbox). */
  cycle: (link: Link, now: Millis) => void = () => {};

  constructor(
    crypto: CryptoProvider,
    m: ReplicantMachine,
    limits: Limits,
    emit: (event: RelayEvent | ReplicantEvent) => void,
  ) {
    this.crypto = crypto;
    this.m = m;
    this.limits = limits;
    this.emit = emit;
  }

  /** Signs and sends a request on an open link; false if it is not open or has too many pending. */
  request(link: Link, body: RelayRequest, request: Request, now: Millis, to?: Uint8Array): boolean {
    if (link.state !== 'up') return false;
    const made = link.session.request(body, this.m.wall(now), to);
    if (!made.ok) return false;
    link.requests.set(made.value.id, request);
    link.lastSentAt = now;
    this.emit({ type: 'relay-send', relay: link.address, message: made.value.message });
    return true;
  }

  /** This user's relays, as its identity document lists them. */
  own(): string[] {
    return this.m.identity.document.relays.filter((a) => parseRelayAddress(a).ok);
  }

  /** This user's relays that are up, one link per relay (a relay listed by ws and tcp counts once). */
  ownUp(): Link[] {
    const byKey = new Map<string, Link>();
    for (const address of this.own()) {
      const link = this.links.get(address);
      if (link?.state === 'up' && !byKey.has(link.keyHex)) byKey.set(link.keyHex, link);
    }
    return [...byKey.values()];
  }

  persist(key: string, value: Uint8Array | undefined): void {
    this.emit({ type: 'persist', table: 'relay', key, value });
  }

  misbehaved(link: Link, reason: string): void {
    link.misbehaviour++;
    this.emit({ type: 'relay-misbehaved', relay: link.address, reason });
  }

  /**
   * A refusal of a write: one that concerns the relay stops writes to it for a while (said once, not
   * for every write that was on its way); one that concerns the record is said each time.
   */
  refusedWrite(link: Link, failure: ClientFailure, now: Millis): void {
    if (RELAY_WIDE.has(failure.code)) {
      if (link.writesAfter > now) return;
      link.writesAfter = now + this.limits.refusedBackoffMs;
    }
    this.refused(link, 'write', failure);
  }

  refused(link: Link, request: RelayRequest['type'], failure: ClientFailure): void {
    const error = 'error' in failure ? failure.error : 'no answer';
    this.emit({ type: 'relay-refused', relay: link.address, request, code: failure.code, error });
  }
}

/** The earliest of some times, ignoring undefined ones. */
export function earliest(...times: (number | undefined)[]): number | undefined {
  let at: number | undefined;
  for (const t of times) if (t !== undefined && (at === undefined || t < at)) at = t;
  return at;
}
