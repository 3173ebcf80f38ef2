import { IdPrefix, type NodeId, type Result, decodeIdText, encodeIdText, err, ok, utf8 } from '@postern/core';
import type { CryptoProvider } from '@postern/crypto';
import {
  type IdentityDocument,
  IdentityLimits,
  describeIdentityError,
  formatIdentityDocument,
  parseIdentityDocument,
} from '@postern/identity';
import { ADDRESSES_MAX, ADDRESS_BYTES_MAX } from '@postern/replicant';
import { parseAddress } from '../address.ts';

/**
 * What a person gives a contact: their signed identity document and, when their node was running,
 * how to reach it (node id and addresses). The document says who they are; the reach lets the
 * contact's node connect at once instead of waiting to be contacted. A bare identity document is
 * accepted too. The reach is not signed: the link to it is authenticated by the node id, and a
 * wrong reach only fails to connect (envelopes are sealed to the document's key).
 */
export interface ContactCard {
  readonly document: IdentityDocument;
  readonly reach: { readonly node: NodeId; readonly addrs: readonly string[] } | undefined;
}

/** A document and four addresses fit many times over; a larger file is not a card. */
const CARD_BYTES_MAX = IdentityLimits.documentBytesMax + 4096;

export type ContactCardError = { readonly code: 'CONTACT_CARD_INVALID'; readonly reason: string };

export function formatContactCard(
  document: IdentityDocument,
  reach?: { readonly node: NodeId; readonly addrs: readonly string[] },
): string {
  const card = {
    type: 'ContactCard',
    version: 1,
    document: JSON.parse(formatIdentityDocument(document)) as unknown,
    ...(reach === undefined
      ? {}
      : {
          node: encodeIdText(IdPrefix.node, reach.node),
          addrs: reach.addrs.slice(0, ADDRESSES_MAX),
        }),
  };
  return `${JSON.stringify(card, null, 2)}\n`;
}

/** A contact card or a bare identity document, verified. Total: any text gives a card or an error. */
export function parseContactCard(
  crypto: CryptoProvider,
  text: string,
): Result<ContactCard, ContactCardError> {
  if (utf8(text).length > CARD_BYTES_MAX) return invalid(`larger than ${CARD_BYTES_MAX} bytes`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return invalid('not JSON: expected a contact card or an identity document');
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return invalid('not a JSON object');
  const fields = json as Record<string, unknown>;
  if (fields['type'] === 'Identity') return documentOf(crypto, text, undefined);
  if (fields['type'] !== 'ContactCard' || fields['version'] !== 1)
    return invalid('neither a contact card (type "ContactCard", version 1) nor an identity document');
  const reach = reachOf(fields);
  if (!reach.ok) return reach;
  return documentOf(crypto, JSON.stringify(fields['document'] ?? null), reach.value);
}

function documentOf(
  crypto: CryptoProvider,
  text: string,
  reach: ContactCard['reach'],
): Result<ContactCard, ContactCardError> {
  const document = parseIdentityDocument(crypto, text);
  if (!document.ok) return invalid(`its identity document: ${describeIdentityError(document.error)}`);
  return ok({ document: document.value, reach });
}

function reachOf(fields: Record<string, unknown>): Result<ContactCard['reach'], ContactCardError> {
  const { node, addrs } = fields;
  if (node === undefined && addrs === undefined) return ok(undefined);
  if (typeof node !== 'string') return invalid('"node" must be a node id (pnode1…)');
  const id = decodeIdText(IdPrefix.node, node);
  if (!id.ok) return invalid(`"node" is not a node id: ${id.error.code}`);
  if (!Array.isArray(addrs) || addrs.length === 0 || addrs.length > ADDRESSES_MAX)
    return invalid(`"addrs" must list 1 to ${ADDRESSES_MAX} addresses`);
  for (const address of addrs) {
    if (typeof address !== 'string') return invalid('"addrs" must hold strings');
    if (utf8(address).length > ADDRESS_BYTES_MAX)
      return invalid(`an address is at most ${ADDRESS_BYTES_MAX} bytes`);
    try {
      parseAddress(address);
    } catch {
      return invalid(`"${address.slice(0, 80)}" is not an address like tcp://127.0.0.1:7400`);
    }
  }
  return ok({ node: id.value as NodeId, addrs: addrs as string[] });
}

function invalid(reason: string): Result<never, ContactCardError> {
  return err({ code: 'CONTACT_CARD_INVALID', reason });
}
