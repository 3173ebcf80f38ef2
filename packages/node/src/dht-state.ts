import type { NodeId } from '@postern/core';
import type { Contact } from '@postern/kademlia';
import {
  decodeWith,
  encodeCanonical,
  expectArrayOf,
  expectBytes,
  expectStruct,
  expectText,
  expectUint,
} from '@postern/wire';

const readContacts = expectArrayOf(
  expectStruct({
    id: expectBytes(32),
    addrs: expectArrayOf(expectText(256), { min: 1, max: 4 }),
  }),
  { min: 0, max: 256 },
);

/** The routing table's contacts as saved in table 'dht': canonical CBOR `[{ id, addrs }]`. */
export function encodeDhtContacts(contacts: readonly Contact[]): Uint8Array {
  return encodeCanonical(contacts.map((c) => ({ id: c.id, addrs: [...c.addresses] })));
}

/** Unreadable saved contacts are no contacts: the node bootstraps from its seeds alone. */
export function decodeDhtContacts(bytes: Uint8Array): Contact[] {
  const read = decodeWith(bytes, readContacts);
  return read.ok ? read.value.map((c) => ({ id: c.id as NodeId, addresses: c.addrs })) : [];
}

/** When the node last published its records (wall clock), as saved in table 'dht'. */
export function encodePublishedAt(wallMs: number): Uint8Array {
  return encodeCanonical(wallMs);
}

export function decodePublishedAt(bytes: Uint8Array): number {
  const read = decodeWith(bytes, expectUint());
  return read.ok ? read.value : -Infinity;
}
