import { UsageError } from '@postern/core';
import { ID_PUZZLE_BITS_MAX } from './id-puzzle.ts';

/** Bounds of a Kademlia node, each with its reason. */
export interface KademliaLimits {
  /**
   * k: contacts per bucket, and how many closest nodes a lookup returns and a record is stored on.
   * The paper's 20: the chance that all 20 of a bucket's nodes leave within an hour is small.
   */
  readonly bucketSize: number;
  /** Candidates kept per full bucket, most recently seen first, to replace contacts that go away. */
  readonly replacementCacheSize: number;
  /** A bucket no lookup has touched for this long is refreshed by a lookup of a random id in it (the paper's hour). */
  readonly bucketRefreshMs: number;
  /**
   * The largest record value: an identity record (keys, a few relays and replicants, entry points)
   * fits in well under 2 KiB; four leave room and keep one record inside one link frame.
   */
  readonly recordValueBytesMax: number;
  /** The largest salt (BEP 44's 64): it names a record among one owner's records. */
  readonly recordSaltBytesMax: number;
  /**
   * A record may live at most this long before its owner republishes it: two days, so an owner
   * offline for a day still has a findable record, and a lost key's records fade within two.
   */
  readonly recordTtlMaxMs: number;
  /**
   * Records a node stores for others. At ~4.5 KiB each, 10,000 is ~45 MiB at most; a node is one
   * of k = 20 holders of each key, so this covers a network of ~500 records per node times k.
   */
  readonly storedRecordsMax: number;
  /** Records one owner may have stored on this node, so one key cannot fill the store with salts. */
  readonly storedRecordsPerOwnerMax: number;
  /** α: RPCs one lookup path keeps in flight (the paper's 3): enough to route around a slow node. */
  readonly alpha: number;
  /**
   * d: disjoint paths per lookup (S/Kademlia). No node is queried on two paths, so a lookup fails
   * only if every path meets a malicious node; 4 keeps ≥ 99 % success with 10 % bad nodes.
   */
  readonly disjointPaths: number;
  /** Candidates one path remembers, closest first: a few times k, so answers full of far ids cannot grow it. */
  readonly lookupCandidatesMax: number;
  /** An RPC unanswered after this long has failed: a few round trips across continents. */
  readonly rpcTimeoutMs: number;
  /** RPCs of ours awaiting an answer, all queries together: more is a caller flooding us. */
  readonly pendingRpcsMax: number;
  /** Queries (lookups, reads, stores) running at once. */
  readonly queriesMax: number;
  /** Peers whose addresses are remembered beyond the routing table (least recently seen forgotten first). */
  readonly peerAddressesMax: number;
  /**
   * A node holding a record stores it again on the k closest nodes it finds when nobody has stored
   * it there for this long (Kademlia §2.5: an hour), so nodes that joined near the key get a copy
   * and copies lost with departed nodes are replaced.
   */
  readonly republishIntervalMs: number;
  /** Maintenance queries (bucket refreshes, republishes) one tick may start: spreads the load out. */
  readonly maintenanceQueriesPerTickMax: number;
  /**
   * S/Kademlia's static puzzle (id-puzzle.ts): node ids whose puzzle hash does not start with this
   * many zero bits are refused everywhere (links, answers, seeds). 0 turns it off; every node of a
   * network must agree. Off by default so tests and the simulator need no grinding; a public
   * network sets it (16 costs an honest node ~65,000 key generations, a few seconds, once).
   */
  readonly idPuzzleBits: number;
}

export const DEFAULT_KADEMLIA_LIMITS: KademliaLimits = {
  bucketSize: 20,
  replacementCacheSize: 10,
  bucketRefreshMs: 60 * 60 * 1000,
  recordValueBytesMax: 4096,
  recordSaltBytesMax: 64,
  recordTtlMaxMs: 48 * 60 * 60 * 1000,
  storedRecordsMax: 10_000,
  storedRecordsPerOwnerMax: 16,
  alpha: 3,
  disjointPaths: 4,
  lookupCandidatesMax: 80,
  rpcTimeoutMs: 2_000,
  pendingRpcsMax: 1024,
  queriesMax: 64,
  peerAddressesMax: 4096,
  republishIntervalMs: 60 * 60 * 1000,
  maintenanceQueriesPerTickMax: 8,
  idPuzzleBits: 0,
};

/** The most disjoint paths one lookup may take: they split its k initial contacts between them. */
export const DISJOINT_PATHS_MAX = 16;

export function resolveKademliaLimits(limits: Partial<KademliaLimits> = {}): KademliaLimits {
  const resolved = { ...DEFAULT_KADEMLIA_LIMITS, ...limits };
  for (const [name, value] of Object.entries(resolved)) {
    const least = name === 'idPuzzleBits' ? 0 : 1;
    if (!Number.isSafeInteger(value) || value < least) {
      throw new UsageError('KAD_BAD_LIMIT', `limit ${name} must be an integer ≥ ${least}, got ${value}`);
    }
  }
  if (resolved.idPuzzleBits > ID_PUZZLE_BITS_MAX) {
    throw new UsageError('KAD_BAD_LIMIT', `limit idPuzzleBits must be at most ${ID_PUZZLE_BITS_MAX}`);
  }
  if (resolved.disjointPaths > DISJOINT_PATHS_MAX) {
    throw new UsageError('KAD_BAD_LIMIT', `limit disjointPaths must be at most ${DISJOINT_PATHS_MAX}`);
  }
  return resolved;
}
