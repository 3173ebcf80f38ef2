import type { NodeId } from '@postern/core';
import { compareDistance } from './distance.ts';
import type { KademliaLimits } from './limits.ts';
import { type Claims, LookupPath } from './lookup-path.ts';
import type { SignedRecord } from './records.ts';
import type { Contact } from './routing-table.ts';

export type QueryId = number;

export type QueryKind = 'find_node' | 'find_value' | 'store';

/** One running lookup, read or store of a KademliaMachine: its d paths and what they found. */
export interface Query {
  readonly id: QueryId;
  readonly kind: QueryKind;
  /** A maintenance query (bucket refresh, republish): no event when it ends. */
  readonly internal: boolean;
  /** The bootstrap lookup of our own id: when it ends, the buckets farther out are refreshed. */
  join: boolean;
  readonly target: Uint8Array;
  readonly paths: LookupPath[];
  /** store: the record; find_value: the best valid record seen. */
  record: SignedRecord | undefined;
  /** find_value: every holder that answered with a valid record, and its seq (stale ones are repaired). */
  readonly versions: { holder: Contact; seq: number }[];
  holders: number;
  /** store phase: STORE requests out, and how many kept it. */
  storing: number;
  stored: number;
  asked: number;
}

/**
 * A query whose `paths` disjoint paths (fewer if there are fewer start contacts) split the start
 * contacts between them round-robin, closest first, and share one claims map.
 */
export function newQuery(options: {
  id: QueryId;
  kind: QueryKind;
  target: Uint8Array;
  self: NodeId;
  start: readonly Contact[];
  paths: number;
  internal: boolean;
  limits: KademliaLimits;
}): Query {
  const { target, start, self, limits } = options;
  const claims: Claims = new Map();
  const d = Math.max(1, Math.min(options.paths, start.length));
  const paths = Array.from(
    { length: d },
    (_, p) => new LookupPath({ target, self, seeds: start.filter((_, i) => i % d === p), claims, limits }),
  );
  return {
    id: options.id,
    kind: options.kind,
    internal: options.internal,
    join: false,
    target,
    paths,
    record: undefined,
    versions: [],
    holders: 0,
    storing: 0,
    stored: 0,
    asked: 0,
  };
}

/** The `count` closest nodes any of the query's paths heard answer, closest first. */
export function closestOf(query: Query, count: number): Contact[] {
  const all = query.paths.flatMap((p) => p.closest());
  all.sort((a, b) => compareDistance(query.target, a.id, b.id));
  return all.slice(0, count);
}
