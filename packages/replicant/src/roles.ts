import { type MessagingId, type Millis, type NodeId, UsageError, bytesEqual, toHex } from '@postern/core';
import { IdentityLimits } from '@postern/identity';
import { type ReplicantCore, hexId } from './core.ts';
import type { Holder } from './holder.ts';
import type { ReplicantMessage } from './messages.ts';
import type { Contact, Pending } from './peers.ts';
import { type DutyRow, type NominationRow, decodeRow, encodeRow } from './state.ts';
import { type Role, type Signed, type Terms, openStatement, signStatement } from './statements.ts';

/** The terms a user asks of a replicant when it does not say. */
export const DEFAULT_TERMS: Terms = {
  envelopes: 1_000,
  bytes: 32 * 1024 * 1024,
  ttlMs: 7 * 24 * 3_600_000,
};

/**
 * Nominations, both sides. The user's: nominate, revoke, and the answers that change its document
 * (a new seq listing its replicants, then its contacts are told). The nominee's: requests,
 * accept (with a signed ticket) or refuse, resignation. Every step is kept until the peer says `ok`
 * and resent on its presence.
 */
export class Roles {
  readonly nominations = new Map<string, NominationRow>();
  readonly #core: ReplicantCore;
  readonly #holder: Holder;
  /** Tells every contact this user's new presence (after its document or tickets change). */
  readonly #announce: (now: Millis) => void;

  constructor(core: ReplicantCore, holder: Holder, announce: (now: Millis) => void) {
    this.#core = core;
    this.#holder = holder;
    this.#announce = announce;
  }

  /** Asks a contact to be a replicant of this user; it answers when its person decides. */
  nominate(id: MessagingId, now: Millis, terms: Terms): void {
    const core = this.#core;
    const contact = core.requireContact(id);
    const current = this.nominations.get(contact.hex)?.state;
    if (current === 'accepted') return; // already a replicant
    // Outstanding nominations count too: each may be accepted, and a document lists at most 8.
    if (current !== 'nominated' && this.#taken() >= IdentityLimits.replicantsMax) {
      throw new UsageError(
        'REPLICANT_TOO_MANY',
        `a user has at most ${IdentityLimits.replicantsMax} replicants`,
      );
    }
    const statement = this.#role(core.messagingId, contact.id, 'nominate', terms, now);
    this.#saveNomination(contact.hex, {
      state: 'nominated',
      terms,
      at: core.wall(now),
      out: statement.bytes,
      ticket: null,
    });
    this.send(contact, now);
  }

  /** Ends a replicant's duty: it is taken off the identity record, and told. */
  revoke(id: MessagingId, now: Millis): void {
    const core = this.#core;
    const contact = core.requireContact(id);
    const nomination = this.nominations.get(contact.hex);
    if (nomination === undefined || nomination.state === 'revoked' || nomination.state === 'refused') {
      throw new UsageError('REPLICANT_NOT_NOMINATED', 'this contact is not a replicant of yours');
    }
    const statement = this.#role(core.messagingId, contact.id, 'revoke', nomination.terms, now);
    const row = {
      ...nomination,
      state: 'revoked',
      at: core.wall(now),
      out: statement.bytes,
      ticket: null,
    } as const;
    this.#saveNomination(contact.hex, row);
    this.#publishReplicants(now);
    this.send(contact, now);
  }

  /** The nominee's answer to a nomination (its person's decision). */
  answer(user: MessagingId, accept: boolean, now: Millis): void {
    const core = this.#core;
    const contact = core.requireContact(user);
    const duty = this.#holder.duties.get(contact.hex);
    if (duty === undefined || (duty.state !== 'requested' && !(accept && duty.state === 'serving'))) {
      throw new UsageError('REPLICANT_NO_REQUEST', 'this contact has not asked you to be its replicant');
    }
    const statement = this.#role(contact.id, core.messagingId, accept ? 'accept' : 'refuse', duty.terms, now);
    const ticket = accept ? this.#ticket(contact.id, now).bytes : null;
    const state = accept ? 'serving' : 'refused';
    // `at` stays the user's own time (of its nomination): only the user's clock orders the user's steps.
    this.#saveDuty(contact.hex, { state, terms: duty.terms, at: duty.at, out: statement.bytes, ticket });
    this.send(contact, now);
  }

  /** Stops holding new envelopes for a user; what is held is still delivered. */
  resign(user: MessagingId, now: Millis): void {
    const core = this.#core;
    const contact = core.requireContact(user);
    const duty = this.#holder.duties.get(contact.hex);
    if (duty?.state !== 'serving') {
      throw new UsageError('REPLICANT_NOT_SERVING', 'you are not a replicant of this contact');
    }
    const statement = this.#role(contact.id, core.messagingId, 'resign', duty.terms, now);
    this.#saveDuty(contact.hex, { ...duty, state: 'ended', out: statement.bytes, ticket: null });
    this.send(contact, now);
  }

  /** This node's addresses changed: the users it serves get a ticket with the new ones. */
  reissueTickets(addrs: readonly string[], now: Millis): void {
    const core = this.#core;
    for (const [hex, duty] of this.#holder.duties) {
      if (duty.state !== 'serving' || this.#ticketAddrs(duty.ticket) === addrs.join()) continue;
      const user = hexId(hex);
      const accept = this.#role(user, core.messagingId, 'accept', duty.terms, now);
      this.#saveDuty(hex, { ...duty, out: accept.bytes, ticket: this.#ticket(user, now).bytes });
      const contact = core.peers.get(hex);
      if (contact !== undefined) this.send(contact, now);
    }
  }

  /** Sends this peer the nomination steps of ours it has not acknowledged yet. */
  send(contact: Contact, now: Millis): void {
    const core = this.#core;
    if (contact.reach === null) return;
    const nomination = this.nominations.get(contact.hex);
    const duty = this.#holder.duties.get(contact.hex);
    if (nomination?.out && !core.inFlight(`role:${contact.hex}:nomination`)) {
      const message = { t: 'role', s: nomination.out, ticket: null } as const;
      const pending = { kind: 'role', peer: contact.hex, which: 'nomination', out: nomination.out } as const;
      core.request(contact.reach.node, message, pending, now);
    }
    if (duty?.out && !core.inFlight(`role:${contact.hex}:duty`)) {
      const message = {
        t: 'role',
        s: duty.out,
        ticket: duty.state === 'serving' ? duty.ticket : null,
      } as const;
      const pending = { kind: 'role', peer: contact.hex, which: 'duty', out: duty.out } as const;
      core.request(contact.reach.node, message, pending, now);
    }
  }

  onAnswer(pending: Extract<Pending, { kind: 'role' }>, message: ReplicantMessage): void {
    if (message.t !== 'ok') return;
    if (pending.which === 'nomination') {
      const row = this.nominations.get(pending.peer);
      if (row?.out && bytesEqual(row.out, pending.out))
        this.#saveNomination(pending.peer, { ...row, out: null });
    } else {
      const row = this.#holder.duties.get(pending.peer);
      if (row?.out && bytesEqual(row.out, pending.out)) this.#saveDuty(pending.peer, { ...row, out: null });
    }
  }

  onRole(from: NodeId, message: Extract<ReplicantMessage, { t: 'role' }>, now: Millis): void {
    const core = this.#core;
    const opened = openStatement(core.crypto, message.s, 'role');
    if (!opened.ok) return core.refuse(from, message.rid, 'REPLICANT_BAD_STATEMENT', true);
    const { body, signer } = opened.value;
    const fromUser = body.role === 'nominate' || body.role === 'revoke';
    const [author, addressee] = fromUser ? [body.user, body.replicant] : [body.replicant, body.user];
    if (!bytesEqual(signer, author) || !bytesEqual(addressee, core.messagingId)) {
      return core.refuse(from, message.rid, 'REPLICANT_BAD_STATEMENT', true);
    }
    const contact = core.peers.get(toHex(signer));
    if (contact === undefined) return core.refuse(from, message.rid, 'REPLICANT_NOT_A_CONTACT');
    const refusal = fromUser
      ? this.#onUserRole(contact, body, now)
      : this.#onReplicantRole(contact, body, message.ticket, now);
    if (refusal !== undefined) return core.refuse(from, message.rid, refusal);
    core.reply(from, { t: 'ok', rid: message.rid });
  }

  /** Replicants accepted, and nominations that may still be. */
  #taken(): number {
    return [...this.nominations.values()].filter((n) => n.state === 'accepted' || n.state === 'nominated')
      .length;
  }

  #accepted(): number {
    return [...this.nominations.values()].filter((n) => n.state === 'accepted').length;
  }

  /** The signed tickets of this user's accepted replicants (for presence and the directory). */
  acceptedTickets(): Uint8Array[] {
    const tickets: Uint8Array[] = [];
    for (const row of this.nominations.values())
      if (row.state === 'accepted' && row.ticket) tickets.push(row.ticket);
    return tickets;
  }

  restore(table: 'nomination' | 'duty', key: string, value: Uint8Array): string | undefined {
    if (table === 'nomination') {
      const read = decodeRow('nomination', value);
      if (!read.ok) return read.error.code;
      this.nominations.set(key, read.value);
    } else {
      const read = decodeRow('duty', value);
      if (!read.ok) return read.error.code;
      this.#holder.duties.set(key, read.value);
    }
    return undefined;
  }

  /** A user's nominate or revoke, at the nominee. Returns a refusal code, or undefined. */
  #onUserRole(contact: Contact, body: Signed<'role'>['body'], now: Millis): string | undefined {
    const duties = this.#holder.duties;
    const duty = duties.get(contact.hex);
    if (body.role === 'revoke') {
      if (duty !== undefined && duty.state !== 'ended' && duty.at <= body.at) {
        this.#saveDuty(contact.hex, { ...duty, state: 'ended', at: body.at, out: null, ticket: null });
        this.#core.emit({ type: 'duty-revoked', user: contact.id });
      }
      return undefined;
    }
    if (duty?.state === 'serving') {
      // Asked again (our acceptance was lost): send it again.
      const accept = this.#role(contact.id, this.#core.messagingId, 'accept', duty.terms, now);
      this.#saveDuty(contact.hex, { ...duty, out: accept.bytes });
      return undefined;
    }
    if (duty?.state === 'requested' || (duty !== undefined && duty.at >= body.at)) return undefined;
    const requests = [...duties.values()].filter((d) => d.state === 'requested').length;
    if (requests >= this.#core.limits.nominationRequestsMax) return 'REPLICANT_TOO_MANY_REQUESTS';
    const serving = [...duties.values()].filter((d) => d.state === 'serving').length;
    if (serving >= this.#core.limits.dutiesMax) return 'REPLICANT_TOO_MANY_DUTIES';
    this.#saveDuty(contact.hex, {
      state: 'requested',
      terms: body.terms,
      at: body.at,
      out: null,
      ticket: null,
    });
    this.#core.emit({ type: 'nomination-request', user: contact.id, terms: body.terms });
    return undefined;
  }

  /** A nominee's accept or refuse, or a replicant's resignation, at the user. */
  #onReplicantRole(
    contact: Contact,
    body: Signed<'role'>['body'],
    ticketBytes: Uint8Array | null,
    now: Millis,
  ): string | undefined {
    const nomination = this.nominations.get(contact.hex);
    if (nomination === undefined) return 'REPLICANT_NOT_NOMINATED';
    if (body.role === 'accept') {
      if (nomination.state !== 'nominated' && nomination.state !== 'accepted') return undefined;
      const full = nomination.state === 'nominated' && this.#accepted() >= IdentityLimits.replicantsMax;
      if (full) return 'REPLICANT_TOO_MANY';
      const ticket = this.#checkTicket(contact, ticketBytes);
      if (ticket === undefined) return 'REPLICANT_BAD_TICKET';
      const known =
        nomination.ticket === null
          ? undefined
          : openStatement(this.#core.crypto, nomination.ticket, 'ticket');
      if (nomination.state === 'accepted' && known?.ok && known.value.body.at >= ticket.body.at)
        return undefined;
      this.#saveNomination(contact.hex, {
        ...nomination,
        state: 'accepted',
        at: body.at,
        ticket: ticket.bytes,
        out: null,
      });
    } else if (
      nomination.state === 'nominated' ||
      (body.role === 'resign' && nomination.state === 'accepted')
    ) {
      this.#saveNomination(contact.hex, {
        ...nomination,
        state: 'refused',
        at: body.at,
        ticket: null,
        out: null,
      });
    } else {
      return undefined;
    }
    const answer = body.role as 'accept' | 'refuse' | 'resign';
    this.#core.emit({ type: 'nomination-answer', replicant: contact.id, answer });
    this.#publishReplicants(now);
    return undefined;
  }

  /** A ticket the replicant signed, for this user. */
  #checkTicket(contact: Contact, bytes: Uint8Array | null): Signed<'ticket'> | undefined {
    const ticket = bytes === null ? undefined : openStatement(this.#core.crypto, bytes, 'ticket');
    if (!ticket?.ok) return undefined;
    const ours =
      bytesEqual(ticket.value.signer, contact.id) &&
      bytesEqual(ticket.value.body.user, this.#core.messagingId);
    return ours ? ticket.value : undefined;
  }

  /** After a change of replicants: a new document (seq + 1) if the list changed, then contacts are told. */
  #publishReplicants(now: Millis): void {
    const core = this.#core;
    const accepted = [...this.nominations]
      .filter(([, row]) => row.state === 'accepted')
      .map(([hex]) => hex)
      .sort();
    const current = core.identity.document.replicants.map((id) => toHex(id));
    if (accepted.join() !== current.join()) {
      const replicants = accepted.map((hex) => hexId(hex));
      core.reviseIdentity({ replicants });
    }
    core.emit({
      type: 'identity-changed',
      document: core.identity.document,
      tickets: this.acceptedTickets(),
    });
    this.#announce(now);
  }

  #role(user: MessagingId, replicant: MessagingId, role: Role, terms: Terms, now: Millis): Signed<'role'> {
    const core = this.#core;
    return signStatement(core.crypto, core.identity, 'role', {
      user,
      replicant,
      role,
      terms,
      at: core.wall(now),
    });
  }

  #ticket(user: MessagingId, now: Millis): Signed<'ticket'> {
    const core = this.#core;
    return signStatement(core.crypto, core.identity, 'ticket', {
      user,
      node: core.node,
      addrs: core.addrs,
      at: core.wall(now),
    });
  }

  /** The addresses a ticket of ours gives, joined, or undefined. */
  #ticketAddrs(ticket: Uint8Array | null): string | undefined {
    if (ticket === null) return undefined;
    const opened = openStatement(this.#core.crypto, ticket, 'ticket');
    return opened.ok ? opened.value.body.addrs.join() : undefined;
  }

  #saveNomination(hex: string, row: NominationRow): void {
    this.nominations.set(hex, row);
    this.#core.persist('nomination', hex, encodeRow(row));
  }

  #saveDuty(hex: string, row: DutyRow): void {
    this.#holder.duties.set(hex, row);
    this.#core.persist('duty', hex, encodeRow(row));
  }
}
