import type { RecordPath } from './paths.ts';

/**
 * What a relay keeps, behind one interface with two implementations in packages/runtime (SQLite,
 * PostgreSQL) and one conformance suite (packages/relay/test/store-conformance.ts). Every method
 * is atomic: a crash between two calls loses nothing either had confirmed. Times are the relay's
 * wall clock in ms, given by the caller.
 */
export interface RelayStore {
  /**
   * Stores a record if its sender's account is active and has room; durable when it resolves. A
   * record of the same (sender, recordId) that has expired but not yet been swept counts as absent.
   */
  write(record: NewRecord, now: number): Promise<WriteOutcome>;
  /** The record at `path`, counting one pull and one usage entry, or why not. */
  read(path: RecordPath, pullsMax: number, now: number): Promise<ReadOutcome>;
  /**
   * Deletes `requester`'s records with this id (as sender or receiver), giving their room back. Each
   * stays as a tombstone (no content) for `tombstoneMs`, so a replayed write cannot bring it back.
   */
  delete(
    requester: Uint8Array,
    recordId: Uint8Array,
    now: number,
    tombstoneMs: number,
  ): Promise<DeleteOutcome>;
  /** Paths of live records to `receiver` stored in (afterTs, beforeTs], oldest first. */
  inventory(
    receiver: Uint8Array,
    afterTs: number,
    beforeTs: number,
    limit: number,
    now: number,
  ): Promise<Page<RecordPath>>;
  /** Pulls of `sender`'s records in (afterTs, beforeTs], oldest first. */
  usage(sender: Uint8Array, afterTs: number, beforeTs: number, limit: number): Promise<Page<UsageEntry>>;
  /** True the first time (from, nonce) is claimed; remembered until `keepUntil`. */
  claimNonce(from: Uint8Array, nonce: Uint8Array, keepUntil: number): Promise<boolean>;

  account(pubkey: Uint8Array): Promise<Account | undefined>;
  /** Opens (or reopens, with this quota) an account. */
  openAccount(pubkey: Uint8Array, quota: Quota, source: string, now: number): Promise<void>;
  /**
   * Closes an account: no more writes; what it stored stays until deleted or expired. `source` says
   * who closed it, so an allow-list does not reopen an account the operator closed by hand.
   */
  closeAccount(pubkey: Uint8Array, now: number, source: string): Promise<boolean>;
  accounts(): Promise<Account[]>;

  /** Removes expired records, nonces and usage older than `usageBefore`; counts what went. */
  expire(now: number, usageBefore: number): Promise<ExpireCounts>;
  /**
   * Calls `listener` with the paths of records as they are stored — by this process or, for a shared
   * database, by any other. Returns the unsubscribe function.
   */
  subscribe(listener: (paths: readonly RecordPath[]) => void): () => void;
  /** The relay's signing key: created by `create` the first time, then the same for every process. */
  relayKey(create: () => StoredKey): Promise<StoredKey>;
  close(): Promise<void>;
}

/**
 * Thrown by a store whose queue of pending writes is full: the relay answers "busy" and the client
 * backs off, rather than the queue growing without bound.
 */
export class RelayStoreBusy extends Error {
  override name = 'RelayStoreBusy';
  readonly code = 'RELAY_STORE_BUSY';
}

export interface NewRecord {
  readonly path: RecordPath;
  /** The signed write message, in CBOR: what a read returns, verbatim. */
  readonly message: Uint8Array;
  readonly contentBytes: number;
  /** A digest of the content, to tell a retried write (same) from a clashing one (different). */
  readonly digest: Uint8Array;
  readonly expiresAt: number;
}

export type WriteOutcome =
  | { readonly type: 'stored' }
  /** The same record was written before (perhaps read and deleted since): nothing changes. */
  | { readonly type: 'duplicate' }
  | { readonly type: 'taken' }
  | { readonly type: 'no-account' }
  | {
      readonly type: 'full';
      readonly records: number;
      readonly recordsMax: number;
      readonly bytes: number;
      readonly bytesMax: number;
    };

export type ReadOutcome =
  | { readonly type: 'found'; readonly message: Uint8Array }
  | { readonly type: 'missing' }
  | { readonly type: 'pull-limit' };

export type DeleteOutcome = { readonly deleted: number; readonly foreign: number };

/**
 * One page of a listing. When `complete` is false, everything in (afterTs, throughTs] was listed:
 * ask again from `throughTs`.
 */
export interface Page<T> {
  readonly items: readonly T[];
  readonly complete: boolean;
  readonly throughTs: number;
}

export interface UsageEntry {
  readonly receiver: Uint8Array;
  readonly path: RecordPath;
  readonly ts: number;
  readonly bytes: number;
}

export interface Quota {
  readonly recordsMax: number;
  readonly bytesMax: number;
}

export interface Account extends Quota {
  readonly pubkey: Uint8Array;
  readonly records: number;
  readonly bytes: number;
  readonly active: boolean;
  /** Who opened it: "operator", "allow-list", later a contract id. */
  readonly source: string;
  readonly openedAt: number;
}

export interface ExpireCounts {
  readonly records: number;
  readonly nonces: number;
  readonly usage: number;
}

export interface StoredKey {
  readonly publicKey: Uint8Array;
  readonly secretKey: Uint8Array;
}

/**
 * Items of one millisecond listed at once when a page would otherwise split it. A millisecond holds
 * a few batches of writes at most, far fewer than this; an answer this long (4,000 usage entries of ~170
 * bytes) still fits in one message. Beyond it, inventory skips the rest of that millisecond (a
 * listen still pushes each record as it is stored).
 */
export const SAME_MS_ITEMS_MAX = 4_000;

/**
 * The page rule every store follows, given `list(after, before, max)` (items in (after, before] by
 * time, at most max): fetch up to `limit + 1`; if there are more than `limit`, cut before the first
 * millisecond not wholly listed, so paging by `throughTs` never skips an item; a page that would be
 * one millisecond alone lists that millisecond whole (up to SAME_MS_ITEMS_MAX).
 */
export async function listPage<T extends { readonly ts: number }>(
  list: (after: number, before: number, max: number) => readonly T[] | Promise<readonly T[]>,
  afterTs: number,
  beforeTs: number,
  limit: number,
): Promise<Page<T>> {
  const rows = await list(afterTs, beforeTs, limit + 1);
  if (rows.length <= limit) return { items: rows, complete: true, throughTs: beforeTs };
  const cut = (rows[limit] as T).ts;
  const items = rows.slice(0, limit).filter((row) => row.ts < cut);
  if (items.length > 0) return { items, complete: false, throughTs: cut - 1 };
  const whole = await list(cut - 1, cut, SAME_MS_ITEMS_MAX);
  return { items: whole, complete: cut >= beforeTs, throughTs: cut };
}
