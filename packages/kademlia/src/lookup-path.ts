import { type NodeId, bytesEqual, toHex } from '@postern/core';
import { compareDistance } from './distance.ts';
import type { KademliaLimits } from './limits.ts';
import type { Contact } from './routing-table.ts';

type State = 'waiting' | 'asked' | 'answered' | 'failed';

/** Nodes asked on any path of one lookup, by hex id, and how that went. */
export type Claims = Map<string, 'asked' | 'answered' | 'failed'>;

interface Candidate {
  readonly contact: Contact;
  readonly key: string;
  state: State;
}

/**
 * The state of one iterative lookup path towards `target`, sans-I/O (Kademlia §2.3; S/Kademlia
 * §4.4): candidates closest first, the closest not-yet-asked asked next, at most α at once until the
 * α closest have answered, then the rest of the k closest together.
 * The path is done when the k closest candidates it has heard of (leaving out those that failed)
 * have all answered. Paths of one lookup share `claims`: a node asked on one path is never asked
 * on another, which is what keeps them disjoint; one that answered another path counts here as
 * answered (it is live and known), so the paths together need only the k closest answered. The caller sends the RPCs, and reports each
 * answer (`answered`) or timeout (`failed`).
 */
export class LookupPath {
  readonly target: Uint8Array;
  readonly #limits: Pick<KademliaLimits, 'bucketSize' | 'alpha' | 'lookupCandidatesMax'>;
  readonly #self: NodeId;
  readonly #claims: Claims;
  /** Closest first; at most lookupCandidatesMax. */
  readonly #candidates: Candidate[] = [];
  #asked = 0;

  constructor(options: {
    target: Uint8Array;
    self: NodeId;
    seeds: readonly Contact[];
    claims: Claims;
    limits: Pick<KademliaLimits, 'bucketSize' | 'alpha' | 'lookupCandidatesMax'>;
  }) {
    this.target = options.target;
    this.#self = options.self;
    this.#claims = options.claims;
    this.#limits = options.limits;
    this.#add(options.seeds);
  }

  /**
   * Contacts to ask now: the closest waiting ones among the k closest live, up to α asked at once,
   * and at most `max` (what the caller can send).
   */
  next(max = Infinity): Contact[] {
    // Kademlia §2.3: while answers bring closer nodes, α at a time; once the α closest have all
    // answered, the lookup has converged and the rest of the k closest are asked at once.
    const width = this.#converged() ? this.#limits.bucketSize : this.#limits.alpha;
    const out = this.#waitingAmongClosest(Math.min(max, width - this.#asked));
    for (const candidate of out) {
      this.#claims.set(candidate.key, 'asked');
      candidate.state = 'asked';
      this.#asked++;
    }
    return out.map((c) => c.contact);
  }

  /** `from` answered with `nodes`; answers from nodes this path did not ask are ignored. */
  answered(from: NodeId, nodes: readonly Contact[]): void {
    const candidate = this.#find(from);
    if (candidate?.state !== 'asked') return;
    candidate.state = 'answered';
    this.#claims.set(candidate.key, 'answered');
    this.#asked--;
    this.#add(nodes);
  }

  /** `from` did not answer in time (or answered nonsense): it no longer counts among the closest. */
  failed(from: NodeId): void {
    const candidate = this.#find(from);
    if (candidate?.state !== 'asked') return;
    candidate.state = 'failed';
    this.#claims.set(candidate.key, 'failed');
    this.#asked--;
  }

  /** Nothing in flight and nothing left to ask among the k closest live candidates. */
  get done(): boolean {
    return this.#asked === 0 && this.#waitingAmongClosest(1).length === 0;
  }

  /** The k closest candidates that answered, closest first: the path's result. */
  closest(): Contact[] {
    return this.#candidates
      .filter((c) => c.state === 'answered')
      .slice(0, this.#limits.bucketSize)
      .map((c) => c.contact);
  }

  /** Nodes asked and not yet answered or failed. */
  get inFlight(): number {
    return this.#asked;
  }

  /** A candidate as the whole lookup sees it: asked on another path counts as that path found. */
  #stateOf(candidate: Candidate): State {
    if (candidate.state !== 'waiting') return candidate.state;
    return this.#claims.get(candidate.key) ?? 'waiting';
  }

  /** Up to `max` candidates nobody asked yet among the k closest live ones (not failed on any path). */
  #waitingAmongClosest(max: number): Candidate[] {
    const out: Candidate[] = [];
    let live = 0;
    for (const candidate of this.#candidates) {
      if (live >= this.#limits.bucketSize || out.length >= max) break;
      const state = this.#stateOf(candidate);
      if (state === 'failed') continue;
      live++;
      if (state === 'waiting') out.push(candidate);
    }
    return out;
  }

  /** The α closest live candidates have all answered, on this path or another. */
  #converged(): boolean {
    let seen = 0;
    for (const candidate of this.#candidates) {
      const state = this.#stateOf(candidate);
      if (state === 'failed') continue;
      if (state !== 'answered') return false;
      if (++seen >= this.#limits.alpha) return true;
    }
    return seen > 0;
  }

  #find(id: Uint8Array): Candidate | undefined {
    const key = toHex(id);
    return this.#candidates.find((c) => c.key === key);
  }

  /** Adds contacts not yet known (never ourselves), keeps the list sorted and bounded. */
  #add(contacts: readonly Contact[]): void {
    for (const contact of contacts) {
      if (bytesEqual(contact.id, this.#self)) continue;
      const key = toHex(contact.id);
      if (this.#candidates.some((c) => c.key === key)) continue;
      this.#candidates.push({ contact, key, state: 'waiting' });
    }
    this.#candidates.sort((a, b) => compareDistance(this.target, a.contact.id, b.contact.id));
    // Beyond the bound, drop the farthest that are only waiting: asked ones must stay to be matched.
    for (
      let i = this.#candidates.length - 1;
      i >= 0 && this.#candidates.length > this.#limits.lookupCandidatesMax;
      i--
    ) {
      if ((this.#candidates[i] as Candidate).state === 'waiting') this.#candidates.splice(i, 1);
    }
  }
}
