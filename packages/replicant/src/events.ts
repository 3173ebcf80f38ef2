import type { MessagingId, NodeId } from '@postern/core';
import type { IdentityDocument } from '@postern/identity';
import type { OutboxState, Table } from './state.ts';
import type { Terms } from './statements.ts';

export type ReplicantEvent =
  /** A durable change: write it (or delete it, value undefined) before transmitting what follows. */
  | { type: 'persist'; table: Table; key: string; value: Uint8Array | undefined }
  /** A new message in the inbox (each envelope once, whatever path brought it). */
  | {
      type: 'message';
      key: string;
      sender: MessagingId;
      content: Uint8Array;
      sentAt: number;
      via: 'direct' | 'replicant' | 'relay';
    }
  /** A sent message changed state: stored (a replicant's signed ack, or a relay's signed answer), delivered (the recipient's receipt), expired. */
  | {
      type: 'outbox';
      key: string;
      recipient: MessagingId;
      state: OutboxState;
      /** The replicant whose ack made it stored. */
      by?: MessagingId;
      /** The relay (its key) whose answer made it stored. */
      relay?: Uint8Array;
    }
  /** A contact asks this user to be its replicant: answer with answerNomination. */
  | { type: 'nomination-request'; user: MessagingId; terms: Terms }
  /** A nominee answered, or a replicant resigned. */
  | { type: 'nomination-answer'; replicant: MessagingId; answer: 'accept' | 'refuse' | 'resign' }
  /** A user this node served ended the duty. */
  | { type: 'duty-revoked'; user: MessagingId }
  /** This user's identity document changed (replicants): republish it, with the tickets. */
  | { type: 'identity-changed'; document: IdentityDocument; tickets: readonly Uint8Array[] }
  /** A contact announced itself online. */
  | { type: 'contact-online'; id: MessagingId }
  /** This node (as replicant) took, handed over, dropped at expiry, or dropped when the user refused it for good. */
  | { type: 'held'; key: string; user: MessagingId; change: 'stored' | 'delivered' | 'expired' | 'refused' }
  /** A pending receipt was dropped to stay within bounds: its sender will see "stored", not "delivered". */
  | { type: 'receipt-dropped'; key: string }
  /** A stored row could not be read back; it is skipped. */
  | { type: 'state-corrupt'; table: Table; key: string; reason: string }
  /** A validly signed envelope its sender made unusable (sealed to another key, or undecryptable). */
  | { type: 'sender-misbehaved'; sender: MessagingId; code: string }
  /** A peer sent something no honest node sends: an altered or forged envelope or statement. */
  | { type: 'peer-misbehaved'; peer: NodeId; code: string };
