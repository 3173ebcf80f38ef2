import { type Result, bytesEqual, err, ok } from '@postern/core';
import type { EnvelopeHeader } from '@postern/envelope';
import type { ReplicantLimits } from './limits.ts';
import type { DutyRow } from './state.ts';
import type { Terms } from './statements.ts';

/** Why a replicant refuses to hold an envelope; `retryMs` says when asking again may succeed. */
export type HoldRefusal =
  | { code: 'REPLICANT_NOT_SERVING'; retryMs: 0 }
  | { code: 'REPLICANT_NOT_REPLICATED'; retryMs: 0 }
  | { code: 'REPLICANT_TTL_TOO_LONG'; retryMs: 0 }
  | { code: 'REPLICANT_CONFLICT'; retryMs: 0 }
  | { code: 'REPLICANT_FULL'; retryMs: number };

export interface HeldEnvelope {
  readonly key: string;
  /** The recipient's messaging id, hex: whom to forward it to. */
  readonly user: string;
  readonly env: Uint8Array;
  readonly sender: Uint8Array;
  readonly id: Uint8Array;
  /** What the recipient's receipt must name. */
  readonly digest: Uint8Array;
  /** Wall-clock time after which the envelope is deleted. */
  readonly until: number;
}

interface UserUsage {
  envelopes: number;
  bytes: number;
  readonly keys: Set<string>;
}

/**
 * A replicant's side: the users it serves (duties) and the envelopes it holds for them, with each
 * user's quota (the smaller of the user's terms and this node's limits). It keeps the envelope and
 * nothing else: who the recipient is, and when it expires, are read from the envelope itself.
 */
export class Holder {
  readonly duties = new Map<string, DutyRow>();
  readonly #held = new Map<string, HeldEnvelope>();
  readonly #usage = new Map<string, UserUsage>();
  readonly #limits: ReplicantLimits;

  constructor(limits: ReplicantLimits) {
    this.#limits = limits;
  }

  get heldCount(): number {
    return this.#held.size;
  }

  get(key: string): HeldEnvelope | undefined {
    return this.#held.get(key);
  }

  /** Keys held for a user, in the order they were stored. */
  keysFor(user: string): readonly string[] {
    return [...(this.#usage.get(user)?.keys ?? [])];
  }

  usageOf(user: string): { envelopes: number; bytes: number } {
    const usage = this.#usage.get(user);
    return { envelopes: usage?.envelopes ?? 0, bytes: usage?.bytes ?? 0 };
  }

  /** Users this node still holds envelopes for (serving or not). */
  usersHolding(): string[] {
    return [...this.#usage.keys()];
  }

  /** The checks of a `hold` request, in order; ok with the envelope's deletion time. */
  admit(
    key: string,
    header: EnvelopeHeader,
    env: Uint8Array,
    user: string,
    nowWall: number,
  ): Result<number, HoldRefusal> {
    const duty = this.duties.get(user);
    if (duty?.state !== 'serving') return err({ code: 'REPLICANT_NOT_SERVING', retryMs: 0 });
    if (!header.isReplicated) return err({ code: 'REPLICANT_NOT_REPLICATED', retryMs: 0 });
    const until = header.timestampMs + header.ttlMs;
    if (until > nowWall + this.#ttlCap(duty.terms))
      return err({ code: 'REPLICANT_TTL_TOO_LONG', retryMs: 0 });
    const existing = this.#held.get(key);
    if (existing !== undefined) {
      return bytesEqual(existing.env, env)
        ? ok(existing.until)
        : err({ code: 'REPLICANT_CONFLICT', retryMs: 0 });
    }
    const usage = this.usageOf(user);
    const quota = this.quotaOf(duty.terms);
    if (usage.envelopes + 1 > quota.envelopes || usage.bytes + env.length > quota.bytes) {
      return err({ code: 'REPLICANT_FULL', retryMs: this.#limits.retryMaxMs });
    }
    return ok(until);
  }

  /** The quota a duty runs under: what the user asked, never more than this node allows. */
  quotaOf(terms: Terms): { envelopes: number; bytes: number } {
    return {
      envelopes: Math.min(terms.envelopes, this.#limits.heldEnvelopesPerUserMax),
      bytes: Math.min(terms.bytes, this.#limits.heldBytesPerUserMax),
    };
  }

  add(held: HeldEnvelope): void {
    if (this.#held.has(held.key)) return;
    this.#held.set(held.key, held);
    let usage = this.#usage.get(held.user);
    if (usage === undefined) {
      usage = { envelopes: 0, bytes: 0, keys: new Set() };
      this.#usage.set(held.user, usage);
    }
    usage.envelopes++;
    usage.bytes += held.env.length;
    usage.keys.add(held.key);
  }

  remove(key: string): HeldEnvelope | undefined {
    const held = this.#held.get(key);
    if (held === undefined) return undefined;
    this.#held.delete(key);
    const usage = this.#usage.get(held.user);
    if (usage !== undefined) {
      usage.envelopes--;
      usage.bytes -= held.env.length;
      usage.keys.delete(key);
      if (usage.keys.size === 0) this.#usage.delete(held.user);
    }
    return held;
  }

  #ttlCap(terms: Terms): number {
    return Math.min(terms.ttlMs, this.#limits.heldTtlMsMax);
  }
}
