import {
  BoundedLru,
  type Millis,
  type NodeId,
  type Output,
  type Rng,
  UsageError,
  toHex,
} from '@postern/core';
import type { CryptoProvider } from '@postern/crypto';
import { compareDistance, requireId } from './distance.ts';
import { type KademliaLimits, resolveKademliaLimits } from './limits.ts';
import { LookupPath } from './lookup-path.ts';
import { type KadMessage, RID_MAX, decodeMessage, encodeMessage } from './messages.ts';
import { RecordStore, keyOf } from './record-store.ts';
import { type SignedRecord, checkRecord, compareVersions } from './records.ts';
import { type Contact, RoutingTable } from './routing-table.ts';

export type QueryId = number;

export type KademliaEvent =
  /** findNode finished: the k closest nodes that answered, closest first. */
  | { type: 'nodes-found'; query: QueryId; target: Uint8Array; closest: Contact[] }
  /** findValue finished: the valid record with the highest seq any holder gave, if any. */
  | {
      type: 'value-found';
      query: QueryId;
      key: Uint8Array;
      record: SignedRecord | undefined;
      holders: number;
    }
  /** store finished: how many of the k closest nodes kept the record. */
  | { type: 'stored'; query: QueryId; key: Uint8Array; stored: number; asked: number }
  /** A peer answered with something no honest node sends (a forged or wrongly keyed record). */
  | { type: 'peer-misbehaved'; peer: NodeId; code: string };

type QueryKind = 'find_node' | 'find_value' | 'store';

interface Query {
  readonly id: QueryId;
  readonly kind: QueryKind;
  readonly target: Uint8Array;
  readonly paths: LookupPath[];
  /** store: the record; find_value: the best valid record seen. */
  record: SignedRecord | undefined;
  /** find_value: nodes that returned an older version, to repair. */
  readonly stale: Contact[];
  holders: number;
  /** store phase: STORE requests out, and how many kept it. */
  storing: number;
  stored: number;
  asked: number;
}

interface Pending {
  readonly to: Contact;
  readonly deadline: number;
  readonly query: Query | undefined;
  readonly path: LookupPath | undefined;
}

export interface KademliaOptions {
  readonly self: NodeId;
  readonly crypto: CryptoProvider;
  readonly rng: Rng;
  /** Wall clock = monotonic `now` + this (records expire by the wall clock). */
  readonly wallClockOffsetMs: number;
  readonly limits?: Partial<KademliaLimits>;
  readonly now: Millis;
}

/**
 * A Kademlia node, sans-I/O (STYLE.md): it answers RPCs from its routing table and record store,
 * and runs lookups, reads and stores as `d` disjoint paths of `LookupPath`. It transmits to node
 * ids; the runtime finds their addresses with `addressesOf`. Spec: docs/protocols/kademlia.md.
 */
export class KademliaMachine {
  readonly self: NodeId;
  readonly limits: KademliaLimits;
  readonly table: RoutingTable;
  readonly store: RecordStore;
  readonly #crypto: CryptoProvider;
  readonly #rng: Rng;
  readonly #wallOffset: number;
  readonly #outputs: Output<KademliaEvent>[] = [];
  readonly #pending = new Map<number, Pending>();
  readonly #queries = new Map<QueryId, Query>();
  readonly #addresses: BoundedLru<string, readonly string[]>;
  #nextQuery = 1;

  constructor(options: KademliaOptions) {
    requireId(options.self, 'self');
    this.self = options.self;
    this.limits = resolveKademliaLimits(options.limits);
    this.table = new RoutingTable(options.self, this.limits, options.now);
    this.store = new RecordStore(options.crypto, this.limits);
    this.#crypto = options.crypto;
    this.#rng = options.rng;
    this.#wallOffset = options.wallClockOffsetMs;
    this.#addresses = new BoundedLru(this.limits.peerAddressesMax);
  }

  /** Where a node listens, if known (from the table, a lookup, or `peerConnected`). */
  addressesOf(id: Uint8Array): readonly string[] | undefined {
    return this.#addresses.peek(toHex(id));
  }

  /** A link to `contact` came up (its announcement gave its addresses): it may join the table. */
  peerConnected(contact: Contact, now: Millis): void {
    this.#learn(contact);
    this.#observe(contact, now);
  }

  /** Joins the network through known nodes: a lookup of our own id fills the table around us. */
  bootstrap(contacts: readonly Contact[], now: Millis): QueryId {
    for (const contact of contacts) this.#learn(contact);
    return this.#startQuery('find_node', this.self, now, contacts);
  }

  findNode(target: Uint8Array, now: Millis): QueryId {
    requireId(target, 'target');
    return this.#startQuery('find_node', target, now);
  }

  /** A quorum read: every path asks for the record; the highest valid seq wins and stale holders are repaired. */
  findValue(key: Uint8Array, now: Millis): QueryId {
    requireId(key, 'key');
    return this.#startQuery('find_value', key, now);
  }

  /** Finds the k closest nodes to the record's key and stores it on them. */
  storeRecord(record: SignedRecord, now: Millis): QueryId {
    const key = keyOf(this.#crypto, record);
    const checked = checkRecord(this.#crypto, record, { key, nowMs: this.#wall(now), limits: this.limits });
    if (!checked.ok)
      throw new UsageError('KAD_BAD_RECORD', `the record would be refused: ${checked.error.code}`);
    const id = this.#startQuery('store', key, now);
    (this.#queries.get(id) as Query).record = record;
    return id;
  }

  handleReceive(from: NodeId, bytes: Uint8Array, now: Millis): void {
    const decoded = decodeMessage(bytes, this.limits);
    if (!decoded.ok) return this.#misbehaved(from, 'KAD_MALFORMED');
    const message = decoded.value;
    const addresses = this.addressesOf(from);
    if (addresses !== undefined) this.#observe({ id: from, addresses }, now);
    if (isRequest(message)) return this.#answer(from, message, now);
    const pending = this.#pending.get(message.rid);
    if (pending === undefined || toHex(pending.to.id) !== toHex(from)) return; // late, or not ours
    this.#pending.delete(message.rid);
    this.#onAnswer(pending, message, now);
  }

  /** Fails every RPC past its deadline. Idempotent. */
  handleTimeout(now: Millis): void {
    for (const [rid, pending] of [...this.#pending]) {
      if (pending.deadline > now) continue;
      this.#pending.delete(rid);
      this.table.pingFailed(pending.to.id);
      pending.path?.failed(pending.to.id);
      if (pending.query?.kind === 'store' && pending.path === undefined) pending.query.storing--;
      if (pending.query) this.#advance(pending.query, now);
    }
  }

  pollOutput(): Output<KademliaEvent> {
    const output = this.#outputs.shift();
    if (output !== undefined) return output;
    let at: number | undefined;
    for (const pending of this.#pending.values())
      at = at === undefined ? pending.deadline : Math.min(at, pending.deadline);
    return { type: 'timeout', at: at as Millis | undefined };
  }

  #wall(now: Millis): number {
    return now + this.#wallOffset;
  }

  #learn(contact: Contact): void {
    if (toHex(contact.id) !== toHex(this.self)) this.#addresses.set(toHex(contact.id), contact.addresses);
  }

  #observe(contact: Contact, now: Millis): void {
    const observation = this.table.observe(contact, now);
    if (observation.type === 'cached' && observation.ping)
      this.#request(observation.ping, { t: 'ping' }, now);
  }

  #answer(from: NodeId, request: Request, now: Millis): void {
    const rid = request.rid;
    const closest = (target: Uint8Array) =>
      this.table.closest(target, this.limits.bucketSize, (id) => toHex(id) === toHex(from));
    switch (request.t) {
      case 'ping':
        return this.#send(from, { t: 'pong', rid });
      case 'find_node':
        return this.#send(from, { t: 'nodes', rid, nodes: closest(request.target) });
      case 'find_value': {
        const record = this.store.get(request.key, this.#wall(now));
        const nodes = closest(request.key);
        return this.#send(from, record ? { t: 'value', rid, record, nodes } : { t: 'nodes', rid, nodes });
      }
      case 'store': {
        const put = this.store.put(keyOf(this.#crypto, request.record), request.record, this.#wall(now));
        return this.#send(from, { t: 'stored', rid, result: put.ok ? 'ok' : put.error.code });
      }
    }
  }

  #onAnswer(pending: Pending, message: KadMessage, now: Millis): void {
    const { query, path, to } = pending;
    if (message.t === 'pong') return this.table.pingAnswered(to.id, now);
    if (query === undefined) return;
    if (message.t === 'stored') {
      query.storing--;
      if (message.result === 'ok') query.stored++;
      return this.#advance(query, now);
    }
    if (message.t !== 'nodes' && message.t !== 'value') return;
    for (const node of message.nodes) this.#learn(node);
    if (message.t === 'value') this.#considerValue(query, to, message.record, now);
    path?.answered(to.id, message.nodes);
    this.#advance(query, now);
  }

  /** A record from a holder: checked like any read; the highest seq kept; older holders noted for repair. */
  #considerValue(query: Query, holder: Contact, record: SignedRecord, now: Millis): void {
    const checked = checkRecord(this.#crypto, record, {
      key: query.target,
      nowMs: this.#wall(now),
      limits: this.limits,
    });
    if (!checked.ok) return this.#misbehaved(holder.id, checked.error.code);
    query.holders++;
    if (query.record === undefined || compareVersions(record, query.record) === 'newer') {
      query.record = record;
    } else if (compareVersions(record, query.record) === 'stale') {
      query.stale.push(holder);
    }
  }

  #startQuery(kind: QueryKind, target: Uint8Array, now: Millis, seeds?: readonly Contact[]): QueryId {
    if (this.#queries.size >= this.limits.queriesMax) {
      throw new UsageError('KAD_TOO_MANY_QUERIES', `at most ${this.limits.queriesMax} queries run at once`);
    }
    this.table.touch(target, now);
    const start = (seeds ?? this.table.closest(target, this.limits.bucketSize)).filter(
      (c) => toHex(c.id) !== toHex(this.self),
    );
    const claimed = new Set<string>();
    const d = Math.max(1, Math.min(this.limits.disjointPaths, start.length));
    const paths = Array.from(
      { length: d },
      (_, p) =>
        new LookupPath({
          target,
          self: this.self,
          seeds: start.filter((_, i) => i % d === p),
          claimed,
          limits: this.limits,
        }),
    );
    const id = this.#nextQuery++;
    const query: Query = {
      id,
      kind,
      target,
      paths,
      record: undefined,
      stale: [],
      holders: 0,
      storing: 0,
      stored: 0,
      asked: 0,
    };
    this.#queries.set(id, query);
    this.#advance(query, now);
    return id;
  }

  /** Sends what the query's paths want next; finishes the query once they are all done. */
  #advance(query: Query, now: Millis): void {
    if (!this.#queries.has(query.id)) return;
    const ask = query.kind === 'find_value' ? 'find_value' : 'find_node';
    for (const path of query.paths) {
      for (const contact of path.next()) {
        const message =
          ask === 'find_value' ? { t: ask, key: query.target } : { t: ask, target: query.target };
        if (!this.#request(contact, message as RequestBody, now, query, path)) path.failed(contact.id);
      }
    }
    if (!query.paths.every((p) => p.done)) return;
    if (query.kind === 'store') return this.#storePhase(query, now);
    this.#finish(query, now);
  }

  #storePhase(query: Query, now: Millis): void {
    if (query.asked === 0) {
      for (const contact of this.#closestOf(query)) {
        if (this.#request(contact, { t: 'store', record: query.record as SignedRecord }, now, query)) {
          query.storing++;
          query.asked++;
        }
      }
      if (query.asked === 0) query.asked = -1; // nobody to ask: done, with nothing stored
    }
    if (query.storing === 0) this.#finish(query, now);
  }

  #finish(query: Query, now: Millis): void {
    this.#queries.delete(query.id);
    if (query.kind === 'find_node') {
      this.#emit({
        type: 'nodes-found',
        query: query.id,
        target: query.target,
        closest: this.#closestOf(query),
      });
    } else if (query.kind === 'find_value') {
      // Read repair: holders of an older version get the newest.
      if (query.record)
        for (const holder of query.stale) this.#request(holder, { t: 'store', record: query.record }, now);
      this.#emit({
        type: 'value-found',
        query: query.id,
        key: query.target,
        record: query.record,
        holders: query.holders,
      });
    } else {
      this.#emit({
        type: 'stored',
        query: query.id,
        key: query.target,
        stored: query.stored,
        asked: Math.max(query.asked, 0),
      });
    }
  }

  /** The k closest nodes any path heard answer, closest first. */
  #closestOf(query: Query): Contact[] {
    const all = query.paths.flatMap((p) => p.closest());
    all.sort((a, b) => compareDistance(query.target, a.id, b.id));
    return all.slice(0, this.limits.bucketSize);
  }

  /** Sends a request with a fresh rid and an RPC deadline; false when too many are pending. */
  #request(to: Contact, message: RequestBody, now: Millis, query?: Query, path?: LookupPath): boolean {
    if (this.#pending.size >= this.limits.pendingRpcsMax) return false;
    let rid = this.#rng.int(RID_MAX);
    while (this.#pending.has(rid)) rid = this.#rng.int(RID_MAX);
    this.#learn(to);
    this.#pending.set(rid, { to, deadline: now + this.limits.rpcTimeoutMs, query, path });
    this.#send(to.id, { ...message, rid });
    return true;
  }

  #send(to: NodeId, message: KadMessage): void {
    this.#outputs.push({ type: 'transmit', to, bytes: encodeMessage(message) });
  }

  #emit(event: KademliaEvent): void {
    this.#outputs.push({ type: 'event', event });
  }

  #misbehaved(peer: NodeId, code: string): void {
    this.#emit({ type: 'peer-misbehaved', peer, code });
  }
}

type Request = Extract<KadMessage, { t: 'ping' | 'find_node' | 'find_value' | 'store' }>;
/** A request before its rid is chosen. */
type RequestBody = WithoutRid<Request>;
type WithoutRid<T> = T extends unknown ? Omit<T, 'rid'> : never;

function isRequest(message: KadMessage): message is Request {
  return (
    message.t === 'ping' || message.t === 'find_node' || message.t === 'find_value' || message.t === 'store'
  );
}
