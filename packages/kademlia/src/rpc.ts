import { utf8Fits } from '@postern/core';
import { ID_BYTES } from './distance.ts';
import { ADDRESS_BYTES_MAX, CONTACT_ADDRESSES_MAX, type KadMessage } from './messages.ts';
import type { Contact } from './routing-table.ts';

/** The messages that ask something; each gets one of `ANSWERS` back, with the same rid. */
export type Request = Extract<KadMessage, { t: 'ping' | 'find_node' | 'find_value' | 'store' }>;

/** A request before its rid is chosen. */
export type RequestBody = WithoutRid<Request>;
type WithoutRid<T> = T extends unknown ? Omit<T, 'rid'> : never;

/** The answers each request can get: anything else is a peer misbehaving. */
export const ANSWERS: Record<Request['t'], readonly KadMessage['t'][]> = {
  ping: ['pong'],
  find_node: ['nodes'],
  find_value: ['nodes', 'value'],
  store: ['stored'],
};

export function isRequest(message: KadMessage): message is Request {
  return Object.hasOwn(ANSWERS, message.t);
}

/**
 * A contact as the codec allows it: 1 to CONTACT_ADDRESSES_MAX addresses of at most
 * ADDRESS_BYTES_MAX bytes each, or undefined when none is usable.
 */
export function sanitize(contact: Contact): Contact | undefined {
  if (contact.id.length !== ID_BYTES) return undefined;
  const addresses = contact.addresses
    .filter((a) => typeof a === 'string' && a.length > 0 && utf8Fits(a, ADDRESS_BYTES_MAX))
    .slice(0, CONTACT_ADDRESSES_MAX);
  return addresses.length === 0 ? undefined : { id: contact.id, addresses };
}
