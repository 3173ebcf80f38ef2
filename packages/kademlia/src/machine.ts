import {
  BoundedLru,
  type Millis,
  type NodeId,
  type Output,
  type Rng,
  UsageError,
  bytesEqual,
  toHex,
} from '@postern/core';
import type { CryptoProvider } from '@postern/crypto';
import {
  ID_BITS,
  commonPrefixBits,
  compareDistance,
  idInBucket,
  requireId,
  xorDistance,
} from './distance.ts';
import { meetsIdPuzzle } from './id-puzzle.ts';
import { DISJOINT_PATHS_MAX, type KademliaLimits, resolveKademliaLimits } from './limits.ts';
import type { LookupPath } from './lookup-path.ts';
import { type KadMessage, RID_MAX, decodeMessage, encodeMessage } from './messages.ts';
import { type Query, type QueryId, type QueryKind, closestOf, newQuery } from './query.ts';
import { RecordStore, keyOf } from './record-store.ts';
import { type SignedRecord, checkRecord, compareVersions } from './records.ts';
import { type Contact, RoutingTable } from './routing-table.ts';
import { ANSWERS, type Request, type RequestBody, isRequest, sanitize } from './rpc.ts';

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

interface Pending {
  readonly to: Contact;
  /** The answers that fit the request (`nodes` or `value` for find_value, ...). */
  readonly expects: readonly KadMessage['t'][];
  readonly deadline: number;
  readonly query: Query | undefined;
  readonly path: LookupPath | undefined;
}

/** Bootstrap contacts remembered for rejoining. */
const JOIN_SEEDS_MAX = 16;

/** The longest wait between two tries to join when nobody answered: a node alone retries every 5 min. */
const REJOIN_DELAY_MAX_MS = 5 * 60_000;

/**
 * A bucket refresh only meets nodes to fill the table (its result goes nowhere), so one path does:
 * a quarter of the messages of a d = 4 lookup.
 */
const REFRESH = { internal: true, disjointPaths: 1 } as const;

/** Per-lookup choices. */
export interface LookupOptions {
  /** d, disjoint paths for this lookup (default: the `disjointPaths` limit): more for lookups that matter more. */
  readonly disjointPaths?: number;
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
  /** Ids already checked against the id puzzle (each check is a hash; answers repeat the same ids). */
  readonly #puzzleChecked: BoundedLru<string, boolean>;
  readonly #maintenanceEveryMs: number;
  #maintenanceAt: number;
  /** The contacts the last bootstrap was given, tried again while nobody answers (see `#joined`). */
  #joinSeeds: readonly Contact[] = [];
  #rejoinAt = Infinity;
  #rejoinDelayMs = 0;
  #nextQuery = 1;
  /** A query could not send for want of room among pending RPCs: advance them all when room frees up. */
  #starved = false;

  constructor(options: KademliaOptions) {
    requireId(options.self, 'self');
    this.self = options.self;
    this.limits = resolveKademliaLimits(options.limits);
    this.table = new RoutingTable(options.self, this.limits, options.now);
    this.store = new RecordStore(options.crypto, this.limits, options.self);
    this.#crypto = options.crypto;
    this.#rng = options.rng;
    this.#wallOffset = options.wallClockOffsetMs;
    this.#addresses = new BoundedLru(this.limits.peerAddressesMax);
    this.#puzzleChecked = new BoundedLru(this.limits.peerAddressesMax);
    // Often enough that a bucket or record is looked after within a quarter of its period late.
    this.#maintenanceEveryMs = Math.min(this.limits.bucketRefreshMs, this.limits.republishIntervalMs) / 4;
    this.#maintenanceAt = options.now + this.#maintenanceEveryMs;
  }

  /**
   * How many nodes the network holds, judged from how close the nearest known ones are: with n ids
   * spread evenly, the k-th closest to any point sits about k × 2^256 / n away. Rough (a factor of
   * 2 either way for small k) and blind to nodes not yet met, which is what a status line needs.
   */
  networkSizeEstimate(): number {
    const nearest = this.table.closest(this.self, this.limits.bucketSize);
    const farthest = nearest.at(-1);
    if (farthest === undefined || nearest.length < this.limits.bucketSize) return nearest.length + 1;
    let distance = 0n;
    for (const byte of xorDistance(this.self, farthest.id)) distance = (distance << 8n) | BigInt(byte);
    if (distance === 0n) return nearest.length + 1;
    return Math.max(nearest.length + 1, Number((BigInt(nearest.length) << 256n) / distance));
  }

  /** Queries that may still start before `queriesMax` refuses more. */
  get queryRoom(): number {
    return this.limits.queriesMax - this.#queries.size;
  }

  /** Where a node listens, if known (from the table, a lookup, or `peerConnected`). */
  addressesOf(id: Uint8Array): readonly string[] | undefined {
    return this.table.contact(id)?.addresses ?? this.#addresses.peek(toHex(id));
  }

  /** A link to `contact` came up (its announcement gave its addresses): it may join the table. */
  peerConnected(contact: Contact, now: Millis): void {
    const valid = sanitize(contact);
    if (valid === undefined || bytesEqual(valid.id, this.self) || !this.#idAllowed(valid.id)) return;
    this.#addresses.set(toHex(valid.id), valid.addresses); // from its own signed announcement
    this.#observe(valid, now);
  }

  /**
   * Joins the network through known nodes (Kademlia §2.3): a lookup of our own id fills the table
   * around us; when it ends, every bucket farther than our closest neighbour is refreshed, so the
   * table holds contacts across the whole id space and later lookups take few hops.
   */
  bootstrap(contacts: readonly Contact[], now: Millis): QueryId {
    this.#joinSeeds = contacts
      .filter((c) => !bytesEqual(c.id, this.self) && this.#idAllowed(c.id))
      .slice(0, JOIN_SEEDS_MAX);
    this.#rejoinAt = Infinity;
    this.#rejoinDelayMs = 0;
    return this.#join(now, false);
  }

  /** A lookup of our own id from the join seeds, and (on a retry) whoever the table holds by now. */
  #join(now: Millis, internal: boolean): QueryId {
    for (const contact of this.#joinSeeds) this.#learn(contact);
    const known = this.table.closest(this.self, this.limits.bucketSize);
    const seeds = [
      ...this.#joinSeeds,
      ...known.filter((c) => !this.#joinSeeds.some((s) => bytesEqual(s.id, c.id))),
    ];
    const id = this.#startQuery('find_node', this.self, now, { seeds, internal });
    const query = this.#queries.get(id);
    if (query !== undefined) query.join = true;
    else this.#joined(undefined, now); // nobody to ask: ended at once
    return id;
  }

  /**
   * A join lookup ended. With an answer, the farther buckets are refreshed. With none (a lost
   * packet, a bootstrap node down), the join is tried again after a delay that doubles up to
   * REJOIN_DELAY_MAX_MS: otherwise the node would wait alone for the hourly refresh, or for good.
   */
  #joined(nearest: Contact | undefined, now: Millis): void {
    if (nearest !== undefined || this.#joinSeeds.length === 0) {
      this.#rejoinAt = Infinity;
      this.#rejoinDelayMs = 0;
      this.#refreshFartherBuckets(nearest, now);
      return;
    }
    this.#rejoinDelayMs = Math.min(
      Math.max(this.#rejoinDelayMs * 2, this.limits.rpcTimeoutMs),
      REJOIN_DELAY_MAX_MS,
    );
    this.#rejoinAt = now + this.#rejoinDelayMs;
  }

  findNode(target: Uint8Array, now: Millis, options: LookupOptions = {}): QueryId {
    requireId(target, 'target');
    return this.#startQuery('find_node', target, now, options);
  }

  /** A quorum read: every path asks for the record; the highest valid seq wins and stale holders are repaired. */
  findValue(key: Uint8Array, now: Millis, options: LookupOptions = {}): QueryId {
    requireId(key, 'key');
    return this.#startQuery('find_value', key, now, options);
  }

  /** Finds the k closest nodes to the record's key and stores it on them. */
  storeRecord(record: SignedRecord, now: Millis, options: LookupOptions = {}): QueryId {
    const key = keyOf(this.#crypto, record);
    const checked = checkRecord(this.#crypto, record, { key, nowMs: this.#wall(now), limits: this.limits });
    if (!checked.ok)
      throw new UsageError('KAD_BAD_RECORD', `the record would be refused: ${checked.error.code}`);
    return this.#startQuery('store', key, now, { ...options, record });
  }

  handleReceive(from: NodeId, bytes: Uint8Array, now: Millis): void {
    if (!this.#idAllowed(from)) return this.#misbehaved(from, 'KAD_ID_PUZZLE');
    const decoded = decodeMessage(bytes, this.limits);
    if (!decoded.ok) return this.#misbehaved(from, 'KAD_MALFORMED');
    const message = decoded.value;
    const addresses = this.addressesOf(from);
    if (addresses !== undefined) this.#observe({ id: from, addresses }, now);
    if (isRequest(message)) return this.#answer(from, message, now);
    const pending = this.#pending.get(message.rid);
    if (pending === undefined || toHex(pending.to.id) !== toHex(from)) return; // late, or not ours
    this.#pending.delete(message.rid);
    if (!pending.expects.includes(message.t)) {
      this.#misbehaved(from, 'KAD_UNEXPECTED_ANSWER');
      this.#failed(pending, now);
    } else {
      this.#onAnswer(pending, message, now);
    }
    this.#unstarve(now);
  }

  #unstarve(now: Millis): void {
    if (!this.#starved) return;
    this.#starved = false;
    for (const query of [...this.#queries.values()]) this.#advance(query, now);
  }

  /** Fails every RPC past its deadline; refreshes buckets and republishes records when due. Idempotent. */
  handleTimeout(now: Millis): void {
    if (now >= this.#maintenanceAt) {
      this.#maintenanceAt = now + this.#maintenanceEveryMs;
      this.#maintain(now);
    }
    if (now >= this.#rejoinAt) {
      // With every query slot taken, the next try waits one RPC timeout (never a timer in the past).
      this.#rejoinAt = now + this.limits.rpcTimeoutMs;
      if (this.#queries.size < this.limits.queriesMax) {
        this.#rejoinAt = Infinity;
        this.#join(now, true);
      }
    }
    for (const [rid, pending] of [...this.#pending]) {
      if (pending.deadline > now) continue;
      this.#pending.delete(rid);
      this.#failed(pending, now);
    }
    this.#unstarve(now);
  }

  /** An RPC that timed out or got an answer that does not fit it. */
  #failed(pending: Pending, now: Millis): void {
    const { to, query, path } = pending;
    if (pending.expects.includes('pong')) this.table.pingFailed(to.id);
    else this.table.unresponsive(to.id);
    path?.failed(to.id);
    if (query?.kind === 'store' && path === undefined) query.storing--;
    if (query) this.#advance(query, now);
  }

  pollOutput(): Output<KademliaEvent> {
    const output = this.#outputs.shift();
    if (output !== undefined) return output;
    let at = Math.min(this.#maintenanceAt, this.#rejoinAt);
    for (const pending of this.#pending.values()) at = Math.min(at, pending.deadline);
    return { type: 'timeout', at: at as Millis };
  }

  /**
   * Refreshes buckets no lookup touched for `bucketRefreshMs`, and stores again every record nobody
   * stored here for `republishIntervalMs` — at most `maintenanceQueriesPerTickMax` queries a tick,
   * leaving room for the caller's own queries; what is left waits for the next tick.
   */
  #maintain(now: Millis): void {
    let budget = Math.min(this.limits.maintenanceQueriesPerTickMax, this.#spareQueries());
    for (const bucket of this.table.staleBuckets(now, this.limits.bucketRefreshMs)) {
      if (budget-- <= 0) return;
      this.#refreshBucket(bucket, now);
    }
    const wall = this.#wall(now);
    for (const entry of this.store.entries(wall)) {
      if (entry.storedAtMs + this.limits.republishIntervalMs > wall) continue;
      if (budget-- <= 0) return;
      entry.storedAtMs = wall;
      this.#startQuery('store', entry.key, now, { internal: true, record: entry.record });
    }
  }

  /**
   * After joining: a lookup of a random id in each bucket farther from us than `nearest`, leaving
   * a quarter of the query slots free for the caller; buckets left out are refreshed hourly.
   */
  #refreshFartherBuckets(nearest: Contact | undefined, now: Millis): void {
    if (nearest === undefined) return;
    const farthest = Math.min(commonPrefixBits(this.self, nearest.id), ID_BITS - 1);
    const count = Math.min(farthest, this.#spareQueries());
    for (let bucket = 0; bucket < count; bucket++) this.#refreshBucket(bucket, now);
  }

  /** Query slots maintenance may take: a quarter of them always stays free for the caller. */
  #spareQueries(): number {
    return this.limits.queriesMax - this.#queries.size - Math.ceil(this.limits.queriesMax / 4);
  }

  /** A single-path lookup of a random id in `bucket`: it meets nodes there and fills the bucket. */
  #refreshBucket(bucket: number, now: Millis): void {
    this.#startQuery('find_node', idInBucket(this.self, bucket, this.#rng.bytes(32)), now, REFRESH);
  }

  #wall(now: Millis): number {
    return now + this.#wallOffset;
  }

  /** Addresses heard from others: kept for ids we know nothing of, never over what we know. */
  #learn(contact: Contact): void {
    const valid = sanitize(contact);
    if (valid === undefined || bytesEqual(valid.id, this.self) || this.addressesOf(valid.id)) return;
    this.#addresses.set(toHex(valid.id), valid.addresses);
  }

  #observe(contact: Contact, now: Millis): void {
    const observation = this.table.observe(contact, now);
    if (observation.type === 'cached' && observation.ping) {
      if (!this.#request(observation.ping, { t: 'ping' }, now)) this.table.pingAbandoned(observation.ping.id);
    }
  }

  #answer(from: NodeId, request: Request, now: Millis): void {
    const rid = request.rid;
    const closest = (target: Uint8Array) =>
      this.table.closest(target, this.limits.bucketSize, (id) => bytesEqual(id, from));
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
    if (message.t === 'value') this.#considerValue(query, to, message.record, now);
    const nodes = message.nodes.filter((c) => this.#idAllowed(c.id));
    if (nodes.length < message.nodes.length) this.#misbehaved(to.id, 'KAD_ID_PUZZLE');
    path?.answered(to.id, nodes);
    this.#advance(query, now);
  }

  /** Whether `id` meets the network's id puzzle (always, when it has none); answers are remembered. */
  #idAllowed(id: Uint8Array): boolean {
    if (this.limits.idPuzzleBits === 0) return true;
    const key = toHex(id);
    let allowed = this.#puzzleChecked.get(key);
    if (allowed === undefined) {
      allowed = meetsIdPuzzle(this.#crypto, id, this.limits.idPuzzleBits);
      this.#puzzleChecked.set(key, allowed);
    }
    return allowed;
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
    query.versions.push({ holder, seq: record.seq });
    if (query.record === undefined || compareVersions(record, query.record) === 'newer')
      query.record = record;
  }

  #startQuery(
    kind: QueryKind,
    target: Uint8Array,
    now: Millis,
    // A store's record is set before the lookup starts: with nobody to ask, it ends at once.
    options: LookupOptions & { seeds?: readonly Contact[]; internal?: boolean; record?: SignedRecord } = {},
  ): QueryId {
    if (this.#queries.size >= this.limits.queriesMax) {
      throw new UsageError('KAD_TOO_MANY_QUERIES', `at most ${this.limits.queriesMax} queries run at once`);
    }
    const paths = options.disjointPaths ?? this.limits.disjointPaths;
    if (!Number.isSafeInteger(paths) || paths < 1 || paths > DISJOINT_PATHS_MAX) {
      throw new UsageError('KAD_BAD_PATHS', `disjointPaths must be 1 to ${DISJOINT_PATHS_MAX}, got ${paths}`);
    }
    this.table.touch(target, now);
    const start = (options.seeds ?? this.table.closest(target, this.limits.bucketSize)).filter(
      (c) => !bytesEqual(c.id, this.self) && this.#idAllowed(c.id),
    );
    const id = this.#nextQuery++;
    const query = newQuery({
      id,
      kind,
      target,
      self: this.self,
      start,
      paths,
      internal: options.internal ?? false,
      limits: this.limits,
    });
    query.record = options.record;
    this.#queries.set(id, query);
    this.#advance(query, now);
    return id;
  }

  /** Sends what the query's paths want next; finishes the query once they are all done. */
  #advance(query: Query, now: Millis): void {
    if (!this.#queries.has(query.id)) return;
    const ask = query.kind === 'find_value' ? 'find_value' : 'find_node';
    for (const path of query.paths) {
      // Only as many as can be sent: the rest wait in the path for a later turn.
      const room = this.limits.pendingRpcsMax - this.#pending.size;
      if (room <= 0 && !path.done) this.#starved = true;
      for (const contact of path.next(room)) {
        const message =
          ask === 'find_value' ? { t: ask, key: query.target } : { t: ask, target: query.target };
        this.#request(contact, message as RequestBody, now, query, path);
      }
    }
    if (!query.paths.every((p) => p.done)) return;
    if (query.kind === 'store') return this.#storePhase(query, now);
    this.#finish(query, now);
  }

  /**
   * Stores on the k closest nodes the lookup found — ourselves included when we are among them
   * (a node near a key keeps it too, or a republish from it would skip its own copy).
   */
  #storePhase(query: Query, now: Millis): void {
    if (query.asked === 0) {
      const record = query.record as SignedRecord;
      const closest = closestOf(query, this.limits.bucketSize);
      const k = this.limits.bucketSize;
      const last = closest[k - 1];
      if (last === undefined || compareDistance(query.target, this.self, last.id) < 0) {
        query.asked++;
        if (this.store.put(query.target, record, this.#wall(now)).ok) query.stored++;
        closest.length = Math.min(closest.length, k - 1); // we take one of the k places
      }
      for (const contact of closest) {
        if (this.#request(contact, { t: 'store', record }, now, query)) {
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
    if (query.join) this.#joined(closestOf(query, this.limits.bucketSize)[0], now);
    if (query.internal) return;
    if (query.kind === 'find_node') {
      this.#emit({
        type: 'nodes-found',
        query: query.id,
        target: query.target,
        closest: closestOf(query, this.limits.bucketSize),
      });
    } else if (query.kind === 'find_value') {
      // Read repair: holders of an older version get the newest.
      const best = query.record;
      if (best !== undefined) {
        for (const { holder, seq } of query.versions) {
          if (seq < best.seq) this.#request(holder, { t: 'store', record: best }, now);
        }
      }
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

  /** Sends a request with a fresh rid and an RPC deadline; false when too many are pending. */
  #request(to: Contact, message: RequestBody, now: Millis, query?: Query, path?: LookupPath): boolean {
    if (this.#pending.size >= this.limits.pendingRpcsMax) return false;
    let rid = this.#rng.int(RID_MAX);
    while (this.#pending.has(rid)) rid = this.#rng.int(RID_MAX);
    this.#learn(to);
    const expects = ANSWERS[message.t];
    this.#pending.set(rid, { to, expects, deadline: now + this.limits.rpcTimeoutMs, query, path });
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
