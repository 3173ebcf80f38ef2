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
  /** A candidate that failed leaves the list; only the shared claims remember it as 'failed'. */
  state: Exclude<State, 'failed'>;
  /** Who named it (hex ids, at most REFERRERS_MAX); empty for the lookup's own seeds. */
  readonly referrers: string[];
}

/** Referrers remembered per candidate: enough to keep a node that several answers named. */
const REFERRERS_MAX = 4;

/**
 * A node whose referrals failed this often, more often than they answered, is discredited: what
 * only it named is dropped. Made-up contacts never answer, so a liar's list is dropped after the
 * first few time out; an honest node that named a few departed ones loses only what nobody else named.
 * A failure named by several counts a share against each (see `#credit`).
 */
const REFERRAL_FAILURES_MAX = 2;

interface Referrer {
  answered: number;
  failed: number;
}

/**
 * The state of one iterative lookup path towards `target`, sans-I/O (Kademlia §2.3; S/Kademlia
 * §4.4): candidates closest first, the closest not-yet-asked asked next, at most α at once until the
 * α closest have answered, then the rest of the k closest together.
 * The path is done when the k closest candidates it has heard of (leaving out those that failed)
 * have all answered. Paths of one lookup share `claims`: a node asked on one path is never asked
 * on another, which is what keeps them disjoint; one that answered another path counts here as
 * answered (it is live and known), so the paths together need only the k closest answered. A
 * node that failed leaves the path, and counts against whoever named it (`#credit`). The caller
 * sends the RPCs, and reports each answer (`answered`) or timeout (`failed`).
 */
export class LookupPath {
  readonly target: Uint8Array;
  readonly #limits: Pick<KademliaLimits, 'bucketSize' | 'alpha' | 'lookupCandidatesMax'>;
  readonly #self: NodeId;
  readonly #claims: Claims;
  /** Closest first; at most lookupCandidatesMax. */
  readonly #candidates: Candidate[] = [];
  /** The same candidates by hex id. */
  readonly #byKey = new Map<string, Candidate>();
  /** How the referrals of each node that answered this path went, by hex id. */
  readonly #referrers = new Map<string, Referrer>();
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
    this.#add(options.seeds, undefined);
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
    this.#credit(candidate, 'answered');
    this.#referrers.set(candidate.key, { answered: 0, failed: 0 });
    this.#add(nodes, candidate.key);
  }

  /**
   * `from` did not answer in time (or answered nonsense): it leaves the path (the shared claims
   * remember it, so no path asks it again), and counts against whoever named it.
   */
  failed(from: NodeId): void {
    const candidate = this.#find(from);
    if (candidate?.state !== 'asked') return;
    this.#claims.set(candidate.key, 'failed');
    this.#asked--;
    this.#remove(this.#candidates.indexOf(candidate));
    this.#credit(candidate, 'failed');
  }

  /**
   * Books a referral's outcome; drops what only discredited nodes named. A failure is shared among
   * the candidate's referrers: a made-up contact is named by its liar alone (or by a few liars
   * sharing the blame), while a real node that went away — or stays silent to frame those who name
   * it — is usually named by several honest nodes, each charged a fraction.
   */
  #credit(candidate: Candidate, outcome: 'answered' | 'failed'): void {
    const share = outcome === 'answered' ? 1 : 1 / candidate.referrers.length;
    let discredited = false;
    for (const key of candidate.referrers) {
      (this.#referrers.get(key) as Referrer)[outcome] += share;
      discredited ||= outcome === 'failed' && this.#discredited(key);
    }
    if (!discredited) return;
    for (let i = this.#candidates.length - 1; i >= 0; i--) {
      const other = this.#candidates[i] as Candidate;
      if (other.state === 'waiting' && this.#onlyDiscredited(other)) this.#remove(i);
    }
  }

  /** Adds a referrer; when the list is full, in place of a discredited one (so liars naming a real node first cannot sink it). */
  #vouch(candidate: Candidate, referrer: string): void {
    if (candidate.referrers.includes(referrer)) return;
    if (candidate.referrers.length < REFERRERS_MAX) {
      candidate.referrers.push(referrer);
      return;
    }
    const stale = candidate.referrers.findIndex((key) => this.#discredited(key));
    if (stale >= 0) candidate.referrers[stale] = referrer;
  }

  #discredited(key: string): boolean {
    const referrer = this.#referrers.get(key);
    return (
      referrer !== undefined &&
      referrer.failed >= REFERRAL_FAILURES_MAX &&
      referrer.failed > referrer.answered
    );
  }

  /** Named by someone, and by nobody still credible (a seed is never dropped). */
  #onlyDiscredited(candidate: Candidate): boolean {
    return candidate.referrers.length > 0 && candidate.referrers.every((key) => this.#discredited(key));
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
    return this.#byKey.get(toHex(id));
  }

  #remove(index: number): void {
    const [candidate] = this.#candidates.splice(index, 1);
    if (candidate !== undefined) this.#byKey.delete(candidate.key);
  }

  /**
   * Adds contacts `referrer` named (never ourselves, nor nodes that failed on any path), keeps the
   * list sorted and bounded.
   */
  #add(contacts: readonly Contact[], referrer: string | undefined): void {
    let added = false;
    for (const contact of contacts) {
      if (bytesEqual(contact.id, this.#self)) continue;
      const key = toHex(contact.id);
      if (this.#claims.get(key) === 'failed') continue;
      const known = this.#byKey.get(key);
      if (known === undefined) {
        const candidate: Candidate = {
          contact,
          key,
          state: 'waiting',
          referrers: referrer === undefined ? [] : [referrer],
        };
        this.#candidates.push(candidate);
        this.#byKey.set(key, candidate);
        added = true;
      } else if (referrer !== undefined && known.referrers.length > 0) {
        this.#vouch(known, referrer);
      }
    }
    if (!added) return;
    this.#candidates.sort((a, b) => compareDistance(this.target, a.contact.id, b.contact.id));
    // Beyond the bound, drop the farthest that are only waiting: asked ones must stay to be matched.
    for (
      let i = this.#candidates.length - 1;
      i >= 0 && this.#candidates.length > this.#limits.lookupCandidatesMax;
      i--
    ) {
      if ((this.#candidates[i] as Candidate).state === 'waiting') this.#remove(i);
    }
  }
}
