import { type Millis, type NodeId, bytesEqual, toHex } from '@postern/core';
import { envelopeDedupeKey, parseEnvelope, verifyEnvelope } from '@postern/envelope';
import { type ReplicantCore, hexId } from './core.ts';
import { Holder } from './holder.ts';
import type { ReplicantMessage } from './messages.ts';
import type { Pending } from './peers.ts';
import { envelopeDigest, openStatement, signStatement } from './statements.ts';

/**
 * The replicant's side: envelopes held for the users this node serves, stored after every check
 * (signed store-ack only once persisted), delivered when the user is online, a window at a time,
 * deleted on the user's receipt for those exact bytes or at their expiry.
 */
export class Holding {
  readonly holder: Holder;
  readonly #core: ReplicantCore;
  /** Users whose last delivery try timed out: wait for their presence (or the slow retry). */
  readonly #userAway = new Set<string>();

  constructor(core: ReplicantCore) {
    this.#core = core;
    this.holder = new Holder(core.limits);
  }

  onHold(from: NodeId, rid: number, env: Uint8Array, now: Millis): void {
    const core = this.#core;
    const header = verifyEnvelope(core.crypto, env, core.wall(now) as Millis);
    if (!header.ok) {
      return core.refuse(from, rid, header.error.code, header.error.code === 'ENVELOPE_BAD_SIGNATURE');
    }
    const user = toHex(header.value.recipient);
    const key = envelopeDedupeKey(header.value);
    const admitted = this.holder.admit(key, header.value, env, user, core.wall(now));
    if (!admitted.ok) return core.refuse(from, rid, admitted.error.code, false, admitted.error.retryMs);
    const digest = envelopeDigest(core.crypto, env);
    if (this.holder.get(key) === undefined) {
      const { sender, id } = header.value;
      this.holder.add({ key, user, env, sender, id, digest, until: admitted.value });
      core.persist('held', key, env);
      core.timers.set(`held:${key}`, admitted.value - core.wallOffset);
      core.emit({ type: 'held', key, user: header.value.recipient, change: 'stored' });
    }
    const ack = signStatement(core.crypto, core.identity, 'stored', {
      recipient: header.value.recipient,
      sender: header.value.sender,
      id: header.value.id,
      digest,
      until: admitted.value,
    });
    core.reply(from, { t: 'stored', rid, ack: ack.bytes });
    if (!this.#userAway.has(user)) this.deliver(user, now);
  }

  /** The user is online (its presence, or the slow retry): what is held for it goes out. */
  userOnline(user: string, now: Millis): void {
    this.#userAway.delete(user);
    this.deliver(user, now);
  }

  /** Sends a user what this node holds for it, a window at a time. */
  deliver(user: string, now: Millis): void {
    const core = this.#core;
    const contact = core.peers.get(user);
    if (contact?.reach == null) return;
    let inFlight = 0;
    for (const key of this.holder.keysFor(user)) {
      if (core.inFlight(`held:${key}`)) inFlight++;
    }
    for (const key of this.holder.keysFor(user)) {
      if (inFlight >= core.limits.deliveryWindow) return;
      const held = this.holder.get(key);
      if (held === undefined || core.inFlight(`held:${key}`)) continue;
      const message = { t: 'deliver', env: held.env } as const;
      if (core.request(contact.reach.node, message, { kind: 'held', key, user }, now)) inFlight++;
    }
  }

  onHeldAnswer(pending: Extract<Pending, { kind: 'held' }>, message: ReplicantMessage, now: Millis): void {
    const core = this.#core;
    const held = this.holder.get(pending.key);
    if (held === undefined) return;
    if (message.t === 'refused') {
      // A final refusal (retryMs 0: expired, or an envelope the user can never open) ends the duty for it.
      if (message.code === 'ENVELOPE_EXPIRED') this.drop(held.key, 'expired');
      else if (message.retryMs === 0) this.drop(held.key, 'refused');
      else {
        const retryMs = Math.max(message.retryMs, core.limits.retryMinMs);
        core.timers.setEarlier(`deliver:${pending.user}`, now + retryMs);
      }
      return;
    }
    if (message.t !== 'receipt') return;
    const receipt = openStatement(core.crypto, message.r, 'receipt');
    const valid =
      receipt.ok &&
      toHex(receipt.value.signer) === pending.user &&
      bytesEqual(receipt.value.body.sender, held.sender) &&
      bytesEqual(receipt.value.body.id, held.id) &&
      bytesEqual(receipt.value.body.digest, held.digest);
    if (!valid) return core.misbehaved(pending.to, 'REPLICANT_BAD_RECEIPT');
    this.drop(held.key, 'delivered');
    this.deliver(pending.user, now);
  }

  /** A delivery timed out: the user is away until its presence, or the slow retry. */
  onHeldTimeout(pending: Extract<Pending, { kind: 'held' }>, now: Millis): void {
    this.#userAway.add(pending.user);
    this.#core.timers.setEarlier(`deliver:${pending.user}`, now + this.#core.limits.retryMaxMs);
  }

  /** The `held:` timer: the envelope is dropped if its time is up. */
  onExpiryTimer(key: string, now: Millis): void {
    const held = this.holder.get(key);
    if (held !== undefined && held.until <= this.#core.wall(now)) this.drop(key, 'expired');
  }

  drop(key: string, change: 'delivered' | 'expired' | 'refused'): void {
    const held = this.holder.remove(key);
    if (held === undefined) return;
    this.#core.timers.clear(`held:${key}`);
    this.#core.persist('held', key, undefined);
    this.#core.emit({ type: 'held', key, user: hexId(held.user), change });
  }

  /** Reads back a held envelope (the row is the envelope's bytes). */
  restore(key: string, env: Uint8Array, now: Millis): string | undefined {
    const core = this.#core;
    const parsed = parseEnvelope(env);
    if (!parsed.ok) return parsed.error.code;
    const { sender, id, recipient, timestampMs, ttlMs } = parsed.value;
    const until = timestampMs + ttlMs; // what its store-ack promised (the TTL cap was checked when it was taken)
    const digest = envelopeDigest(core.crypto, env);
    this.holder.add({ key, user: toHex(recipient), env, sender, id, digest, until });
    core.timers.set(`held:${key}`, Math.max(now, until - core.wallOffset));
    return undefined;
  }
}
