import { type MessagingId, type NodeId, toHex } from '@postern/core';
import type { IdentityDocument } from '@postern/identity';
import type { Reach, Signed } from './statements.ts';

/** A contact: someone whose verified identity document this user holds, and how to reach them. */
export interface Contact {
  readonly id: MessagingId;
  /** The messaging id in hex: the key of every per-contact map. */
  readonly hex: string;
  readonly document: IdentityDocument;
  /** What this user calls them (the document's label unless renamed). */
  readonly name: string;
  /** Their node and addresses from their latest presence, or given when they were added. */
  readonly reach: Reach | null;
  /** Wall-clock time of the presence `reach` came from (0: given by hand). */
  readonly reachAt: number;
  /** Their replicants' tickets, each checked: signed by a replicant in `document.replicants`, for them. */
  readonly tickets: readonly Signed<'ticket'>[];
}

export type Peers = Map<string, Contact>;

/** A request of ours awaiting its answer. */
export type Pending = { readonly to: NodeId; readonly deadline: number } & (
  | {
      readonly kind: 'presence';
      readonly peer: string;
      readonly at: number;
      readonly tries: number;
      readonly reply: boolean;
    }
  | { readonly kind: 'hold'; readonly key: string; readonly replicant: string }
  | { readonly kind: 'direct'; readonly key: string }
  | { readonly kind: 'held'; readonly key: string; readonly user: string }
  | { readonly kind: 'receipts'; readonly sender: string; readonly keys: readonly string[] }
  | {
      readonly kind: 'role';
      readonly peer: string;
      readonly which: 'nomination' | 'duty';
      readonly out: Uint8Array;
    }
);

/** The replicants a contact has accepted, as their tickets say: only those in its current document. */
export function replicantTickets(contact: Contact): Signed<'ticket'>[] {
  const listed = new Set(contact.document.replicants.map((id) => toHex(id)));
  return contact.tickets.filter((t) => listed.has(toHex(t.signer)));
}
