import { type NodeId, bytesEqual, toHex } from '@postern/core';
import { compareDistance } from './distance.ts';
import type { KademliaLimits } from './limits.ts';
import type { Contact } from './routing-table.ts';

type State = 'waiting' | 'asked' | 'answered' | 'failed' | 'taken';

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
 * have all answered. Paths of one lookup share `claimed`: a node asked on one path is never asked
 * on another, which is what keeps them disjoint. The caller sends the RPCs, and reports each
 * answer (`answered`) or timeout (`failed`).
 */
export class LookupPath {
  readonly target: Uint8Array;
  readonly #limits: Pick<KademliaLimits, 'bucketSize' | 'alpha' | 'lookupCandidatesMax'>;
  readonly #self: NodeId;
  readonly #claimed: Set<string>;
  /** Closest first; at most lookupCandidatesMax. */
  readonly #candidates: Candidate[] = [];
  #asked = 0;

  constructor(options: {
    target: Uint8Array;
    self: NodeId;
    seeds: readonly Contact[];
    claimed: Set<string>;
    limits: Pick<KademliaLimits, 'bucketSize' | 'alpha' | 'lookupCandidatesMax'>;
  }) {
    this.target = options.target;
    this.#self = options.self;
    this.#claimed = options.claimed;
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
      this.#claimed.add(candidate.key);
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
    this.#asked--;
    this.#add(nodes);
  }

  /** `from` did not answer in time (or answered nonsense): it no longer counts among the closest. */
  failed(from: NodeId): void {
    const candidate = this.#find(from);
    if (candidate?.state !== 'asked') return;
    candidate.state = 'failed';
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

  /**
   * Up to `max` waiting candidates among the k closest live ones (not failed, not asked on another
   * path: those met here are marked taken and do not count).
   */
  #waitingAmongClosest(max: number): Candidate[] {
    const out: Candidate[] = [];
    let live = 0;
    for (const candidate of this.#candidates) {
      if (live >= this.#limits.bucketSize || out.length >= max) break;
      if (candidate.state === 'waiting' && this.#claimed.has(candidate.key)) candidate.state = 'taken';
      if (candidate.state === 'failed' || candidate.state === 'taken') continue;
      live++;
      if (candidate.state === 'waiting') out.push(candidate);
    }
    return out;
  }

  /** The α closest live candidates have all answered. */
  #converged(): boolean {
    let seen = 0;
    for (const candidate of this.#candidates) {
      if (candidate.state === 'failed' || candidate.state === 'taken') continue;
      if (candidate.state !== 'answered') return false;
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
