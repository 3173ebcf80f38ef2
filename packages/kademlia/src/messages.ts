import { type NodeId, type Result, err, ok } from '@postern/core';
import {
  type WireError,
  decodeWith,
  encodeCanonical,
  expectArrayOf,
  expectBytes,
  expectLiteral,
  expectStruct,
  expectText,
  expectUint,
  expectVariant,
} from '@postern/wire';
import { ID_BYTES } from './distance.ts';
import type { KademliaLimits } from './limits.ts';
import { type SignedRecord, readRecord, recordBytesMax } from './records.ts';
import type { Contact } from './routing-table.ts';

/**
 * The Kademlia RPCs, one canonical CBOR map per link message (protocol id KADEMLIA_PROTOCOL). The
 * sender is the authenticated peer of the link, so no message names it. A request carries `rid`, a
 * number the requester picks; the answer repeats it. Spec: docs/protocols/kademlia.md.
 */
export type KadMessage =
  | { readonly t: 'ping'; readonly rid: number }
  | { readonly t: 'pong'; readonly rid: number }
  | { readonly t: 'find_node'; readonly rid: number; readonly target: Uint8Array }
  | { readonly t: 'find_value'; readonly rid: number; readonly key: Uint8Array }
  /** The answer to find_node, and to find_value from a node without the record. */
  | { readonly t: 'nodes'; readonly rid: number; readonly nodes: readonly Contact[] }
  /** The answer to find_value from a node with the record, with its closest nodes for the rest of the read. */
  | {
      readonly t: 'value';
      readonly rid: number;
      readonly record: SignedRecord;
      readonly nodes: readonly Contact[];
    }
  | { readonly t: 'store'; readonly rid: number; readonly record: SignedRecord }
  /** The answer to store: `ok`, or why the record was refused (a StoreError code). */
  | { readonly t: 'stored'; readonly rid: number; readonly result: string };

export type MessageLimits = Pick<
  KademliaLimits,
  'bucketSize' | 'recordValueBytesMax' | 'recordSaltBytesMax' | 'recordTtlMaxMs'
>;

/** Link protocol id of the Kademlia RPCs. */
export const KADEMLIA_PROTOCOL = 2;
/** Request ids are 32-bit. */
export const RID_MAX = 0xffff_ffff;
/** A contact lists at most this many addresses (a TCP and a WebSocket one, on v4 and v6). */
export const CONTACT_ADDRESSES_MAX = 4;
export const ADDRESS_BYTES_MAX = 256;
/** A result code is a short name. */
const RESULT_BYTES_MAX = 32;

export function encodeMessage(message: KadMessage): Uint8Array {
  const wire = 'nodes' in message ? { ...message, nodes: message.nodes.map(contactToWire) } : message;
  return encodeCanonical({ ...wire } as Parameters<typeof encodeCanonical>[0]);
}

/** Total: any bytes give a message whose fields have the right shapes and sizes, or a WireError. */
export function decodeMessage(bytes: Uint8Array, limits: MessageLimits): Result<KadMessage, WireError> {
  let reader = readers.get(limits);
  if (reader === undefined) {
    reader = messageReader(limits);
    readers.set(limits, reader);
  }
  const decoded = decodeWith(bytes, reader, { maxBytes: messageBytesMax(limits) });
  if (!decoded.ok) return err(decoded.error);
  const message = decoded.value;
  if (message.t === 'nodes' || message.t === 'value')
    return ok({ ...message, nodes: message.nodes.map(contactFromWire) });
  return ok(message);
}

/** The largest message within the limits: a value answer with a record and k contacts. */
export function messageBytesMax(limits: MessageLimits): number {
  const contactBytes = ID_BYTES + CONTACT_ADDRESSES_MAX * (ADDRESS_BYTES_MAX + 3) + 32;
  return recordBytesMax(limits) + limits.bucketSize * contactBytes + 64;
}

/** Readers built once per limits object (a machine's limits live as long as it does). */
const readers = new WeakMap<MessageLimits, ReturnType<typeof messageReader>>();

function messageReader(limits: MessageLimits) {
  const rid = expectUint(RID_MAX);
  const id = expectBytes(ID_BYTES);
  const nodes = expectArrayOf(
    expectStruct({
      id,
      addrs: expectArrayOf(expectText(ADDRESS_BYTES_MAX), { min: 1, max: CONTACT_ADDRESSES_MAX }),
    }),
    { min: 0, max: limits.bucketSize },
  );
  const record = readRecord(limits);
  return expectVariant('t', {
    ping: expectStruct({ t: expectLiteral('ping'), rid }),
    pong: expectStruct({ t: expectLiteral('pong'), rid }),
    find_node: expectStruct({ t: expectLiteral('find_node'), rid, target: id }),
    find_value: expectStruct({ t: expectLiteral('find_value'), rid, key: id }),
    nodes: expectStruct({ t: expectLiteral('nodes'), rid, nodes }),
    value: expectStruct({ t: expectLiteral('value'), rid, record, nodes }),
    store: expectStruct({ t: expectLiteral('store'), rid, record }),
    stored: expectStruct({ t: expectLiteral('stored'), rid, result: expectText(RESULT_BYTES_MAX) }),
  });
}

function contactToWire(contact: Contact): { id: Uint8Array; addrs: string[] } {
  return { id: contact.id, addrs: [...contact.addresses] };
}

function contactFromWire(wire: { id: Uint8Array; addrs: string[] }): Contact {
  return { id: wire.id as NodeId, addresses: wire.addrs };
}
