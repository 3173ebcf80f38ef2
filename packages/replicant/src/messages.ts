import type { Result } from '@postern/core';
import { EnvelopeLimits } from '@postern/envelope';
import {
  type WireError,
  decodeWith,
  encodeCanonical,
  expectArrayOf,
  expectBool,
  expectBytes,
  expectLiteral,
  expectNullable,
  expectStruct,
  expectText,
  expectUint,
  expectVariant,
} from '@postern/wire';
import { STATEMENT_BYTES_MAX } from './statements.ts';

/**
 * The Replicant protocol's link messages, one canonical CBOR map each (link protocol
 * REPLICANT_PROTOCOL). The sending node is the link's authenticated peer; who a statement is from
 * is its signer. Requests carry `rid`, answers repeat it. Spec: docs/protocols/replicant.md.
 */
export type ReplicantMessage =
  /** "I am online" (to a contact); `reply` marks a presence sent back, which is not answered with one. */
  | { readonly t: 'presence'; readonly rid: number; readonly p: Uint8Array; readonly reply: boolean }
  /** Hold this envelope for its recipient (to a replicant). */
  | { readonly t: 'hold'; readonly rid: number; readonly env: Uint8Array }
  /** Here is an envelope for you (to its recipient, from its sender or a replicant). */
  | { readonly t: 'deliver'; readonly rid: number; readonly env: Uint8Array }
  /** Receipts for envelopes this sender sent, received through replicants (to the sender). */
  | { readonly t: 'receipts'; readonly rid: number; readonly rs: readonly Uint8Array[] }
  /** A nomination step; `ticket` comes with an acceptance. */
  | { readonly t: 'role'; readonly rid: number; readonly s: Uint8Array; readonly ticket: Uint8Array | null }
  /** Answers. */
  | { readonly t: 'ok'; readonly rid: number }
  | { readonly t: 'stored'; readonly rid: number; readonly ack: Uint8Array }
  | { readonly t: 'receipt'; readonly rid: number; readonly r: Uint8Array }
  /** A refusal: a ReplicantRefusal code, and when a retry may succeed (0: never for this request). */
  | { readonly t: 'refused'; readonly rid: number; readonly code: string; readonly retryMs: number };

/** Link protocol id of the Replicant protocol (Kademlia is 2). */
export const REPLICANT_PROTOCOL = 3;
export const RID_MAX = 0xffff_ffff;
const CODE_BYTES_MAX = 40;
const RECEIPTS_MAX = 64;
const RECEIPT_BYTES_MAX = 320;

export const MESSAGE_BYTES_MAX = Math.max(EnvelopeLimits.envelopeBytesMax, STATEMENT_BYTES_MAX) + 256;

const rid = expectUint(RID_MAX);
const envelope = expectBytes({ min: 1, max: EnvelopeLimits.envelopeBytesMax });
const statement = expectBytes({ min: 1, max: STATEMENT_BYTES_MAX });

const readMessage = expectVariant('t', {
  presence: expectStruct({ t: expectLiteral('presence'), rid, p: statement, reply: expectBool }),
  hold: expectStruct({ t: expectLiteral('hold'), rid, env: envelope }),
  deliver: expectStruct({ t: expectLiteral('deliver'), rid, env: envelope }),
  receipts: expectStruct({
    t: expectLiteral('receipts'),
    rid,
    rs: expectArrayOf(expectBytes({ min: 1, max: RECEIPT_BYTES_MAX }), { min: 1, max: RECEIPTS_MAX }),
  }),
  role: expectStruct({ t: expectLiteral('role'), rid, s: statement, ticket: expectNullable(statement) }),
  ok: expectStruct({ t: expectLiteral('ok'), rid }),
  stored: expectStruct({ t: expectLiteral('stored'), rid, ack: statement }),
  receipt: expectStruct({ t: expectLiteral('receipt'), rid, r: statement }),
  refused: expectStruct({
    t: expectLiteral('refused'),
    rid,
    code: expectText(CODE_BYTES_MAX),
    retryMs: expectUint(),
  }),
});

export function encodeReplicantMessage(message: ReplicantMessage): Uint8Array {
  return encodeCanonical({ ...message });
}

/** Total: any bytes give a well-shaped message or a WireError. Statements inside are checked by the machine. */
export function decodeReplicantMessage(bytes: Uint8Array): Result<ReplicantMessage, WireError> {
  return decodeWith(bytes, readMessage, { maxBytes: MESSAGE_BYTES_MAX, maxDepth: 2 });
}

export const RECEIPTS_PER_MESSAGE_MAX = RECEIPTS_MAX;
