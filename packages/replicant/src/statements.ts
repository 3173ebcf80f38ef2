import { type MessagingId, type NodeId, type Result, concatBytes, err, ok, utf8 } from '@postern/core';
import { type CryptoProvider, KeyBytes } from '@postern/crypto';
import { type Identity, IdentityLimits } from '@postern/identity';
import {
  type Reader,
  type WireError,
  type WireMap,
  badField,
  decodeWith,
  encodeCanonical,
  expectArrayOf,
  expectBytes,
  expectStruct,
  expectText,
  expectTuple,
  expectUint,
} from '@postern/wire';

/**
 * Signed statements of the Replicant protocol: what one user's messaging key says to others, and
 * what survives being forwarded by anyone (a receipt reaches a sender through whoever holds it).
 * Wire form: canonical CBOR `[kind, body, signer, signature]`; the signature covers
 * SIGN_DOMAIN ‖ canonical CBOR `[kind, body, signer]`. Spec: docs/protocols/replicant.md.
 */
const SIGN_DOMAIN = utf8('postern/replicant/v1/statement\n');
export const ADDRESSES_MAX = 4;
export const ADDRESS_BYTES_MAX = 256;
const ID = 32;
const ENVELOPE_ID = 16;
const DIGEST = 32;
/** A presence carries the identity document and one ticket per replicant: well under 24 KiB. */
const TICKET_BYTES_MAX = 1_400;
export const STATEMENT_BYTES_MAX = IdentityLimits.documentBytesMax + 8 * TICKET_BYTES_MAX + 512;

/** Where a node can be reached: its node id (the transport key's hash) and its listening addresses. */
export interface Reach {
  readonly node: NodeId;
  readonly addrs: readonly string[];
}

/** "I am online at this reach; here is my current identity and my replicants' tickets." Sent only to contacts. */
export interface Presence extends Reach {
  /** Wall-clock time of the announcement: a newer one replaces an older one. */
  readonly at: number;
  /** The user's signed identity document, binary form (its replicant list and seq). */
  readonly doc: Uint8Array;
  /** Signed tickets of the user's replicants (each signed by the replicant). */
  readonly tickets: readonly Uint8Array[];
}

/** Signed by a replicant: "I hold envelopes for `user`, reach me here." */
export interface Ticket extends Reach {
  readonly user: MessagingId;
  readonly at: number;
}

export const ROLES = ['nominate', 'accept', 'refuse', 'revoke', 'resign'] as const;
export type Role = (typeof ROLES)[number];

/** How much a replicant holds for a user, as the user asks and the replicant accepts. */
export interface Terms {
  readonly envelopes: number;
  readonly bytes: number;
  readonly ttlMs: number;
}

/** A step of the nomination protocol: nominate and revoke are the user's, the others the replicant's. */
export interface RoleStatement {
  readonly user: MessagingId;
  readonly replicant: MessagingId;
  readonly role: Role;
  readonly terms: Terms;
  readonly at: number;
}

/** Signed by a replicant: "I stored this envelope for its recipient until `until`." */
export interface StoreAck {
  readonly recipient: MessagingId;
  readonly sender: MessagingId;
  readonly id: Uint8Array;
  readonly digest: Uint8Array;
  readonly until: number;
}

/** Signed by a recipient: "I have the envelope `id` from `sender` with these exact bytes." */
export interface Receipt {
  readonly sender: MessagingId;
  readonly id: Uint8Array;
  readonly digest: Uint8Array;
  readonly at: number;
}

export interface StatementBodies {
  presence: Presence;
  ticket: Ticket;
  role: RoleStatement;
  stored: StoreAck;
  receipt: Receipt;
}
export type StatementKind = keyof StatementBodies;

export interface Signed<K extends StatementKind> {
  readonly kind: K;
  readonly body: StatementBodies[K];
  readonly signer: MessagingId;
  /** The statement's exact wire bytes (to forward or store as they are). */
  readonly bytes: Uint8Array;
}

export type StatementError =
  | { code: 'STATEMENT_MALFORMED'; error: WireError }
  | { code: 'STATEMENT_WRONG_KIND'; expected: StatementKind; got: string }
  | { code: 'STATEMENT_BAD_SIGNATURE' };

const time = expectUint();
const id = expectBytes(ID);
const addrs = expectArrayOf(expectText(ADDRESS_BYTES_MAX), { min: 0, max: ADDRESSES_MAX });

const BODY_READERS: { readonly [K in StatementKind]: Reader<unknown> } = {
  presence: expectStruct({
    node: id,
    addrs,
    at: time,
    doc: expectBytes({ min: 1, max: IdentityLimits.documentBytesMax }),
    tickets: expectArrayOf(expectBytes({ min: 1, max: TICKET_BYTES_MAX }), {
      min: 0,
      max: IdentityLimits.replicantsMax,
    }),
  }),
  ticket: expectStruct({ user: id, node: id, addrs, at: time }),
  role: expectStruct({
    user: id,
    replicant: id,
    role: (value, field) =>
      typeof value === 'string' && (ROLES as readonly string[]).includes(value)
        ? ok(value as Role)
        : badField(field, `expected one of ${ROLES.join(', ')}`),
    terms: expectStruct({ envelopes: expectUint(0xffff_ffff), bytes: time, ttlMs: time }),
    at: time,
  }),
  stored: expectStruct({
    recipient: id,
    sender: id,
    id: expectBytes(ENVELOPE_ID),
    digest: expectBytes(DIGEST),
    until: time,
  }),
  receipt: expectStruct({
    sender: id,
    id: expectBytes(ENVELOPE_ID),
    digest: expectBytes(DIGEST),
    at: time,
  }),
};

const readStatement = expectTuple(
  expectText(16),
  (value, field) =>
    typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array)
      ? ok(value as WireMap)
      : expectStruct({})(value, field),
  expectBytes(KeyBytes.ed25519Public),
  expectBytes(KeyBytes.ed25519Signature),
);

export function signStatement<K extends StatementKind>(
  crypto: CryptoProvider,
  signer: Pick<Identity, 'messagingId' | 'signingKey'>,
  kind: K,
  body: StatementBodies[K],
): Signed<K> {
  const wireBody = body as unknown as WireMap;
  const signature = crypto.ed25519Sign(
    signer.signingKey.expose(),
    signedBytes(kind, wireBody, signer.messagingId),
  );
  const bytes = encodeCanonical([kind, wireBody, signer.messagingId, signature]);
  return { kind, body, signer: signer.messagingId, bytes };
}

/** Decodes, checks the kind and the body's shape, then the signature. Total: never throws. */
export function openStatement<K extends StatementKind>(
  crypto: CryptoProvider,
  bytes: Uint8Array,
  kind: K,
): Result<Signed<K>, StatementError> {
  const decoded = decodeWith(bytes, readStatement, { maxBytes: STATEMENT_BYTES_MAX, maxDepth: 4 });
  if (!decoded.ok) return err({ code: 'STATEMENT_MALFORMED', error: decoded.error });
  const [gotKind, wireBody, signer, signature] = decoded.value;
  if (gotKind !== kind) return err({ code: 'STATEMENT_WRONG_KIND', expected: kind, got: gotKind });
  const body = BODY_READERS[kind](wireBody, '$[1]');
  if (!body.ok) return err({ code: 'STATEMENT_MALFORMED', error: body.error });
  if (!crypto.ed25519Verify(signer, signedBytes(kind, wireBody, signer), signature)) {
    return err({ code: 'STATEMENT_BAD_SIGNATURE' });
  }
  return ok({ kind, body: body.value as StatementBodies[K], signer: signer as MessagingId, bytes });
}

function signedBytes(kind: string, body: WireMap, signer: Uint8Array): Uint8Array {
  return concatBytes(SIGN_DOMAIN, encodeCanonical([kind, body, signer]));
}

/** The digest store-acks and receipts bind to: BLAKE2b-256 of the envelope's exact bytes. */
export function envelopeDigest(crypto: CryptoProvider, envelope: Uint8Array): Uint8Array {
  return crypto.blake2b(envelope, DIGEST);
}

export function describeStatementError(error: StatementError): string {
  switch (error.code) {
    case 'STATEMENT_MALFORMED':
      return `the signed statement is malformed (${error.error.code})`;
    case 'STATEMENT_WRONG_KIND':
      return `expected a ${error.expected} statement, got ${error.got}`;
    case 'STATEMENT_BAD_SIGNATURE':
      return 'the statement’s signature does not match its signer';
  }
}
