// Ids for tests: from a seeded Rng, or built bit by bit so a test can say exactly where an id falls.
import type { Rng } from '@postern/core';
import { type Millis, type NodeId } from '@postern/core';
import type { Contact } from '../src/index.ts';

export const T0 = 0 as Millis;

export function randomId(rng: Rng): NodeId {
  return rng.bytes(32) as NodeId;
}

/** `self` with bit `bit` flipped and the bits after it from `rng`: an id in bucket `bit`. */
export function idSharing(self: Uint8Array, bit: number, rng: Rng): NodeId {
  const id = rng.bytes(32);
  const byte = bit >>> 3;
  const mask = 0x80 >>> (bit & 7);
  for (let i = 0; i < byte; i++) id[i] = self[i] as number;
  const keep = (0xff00 >>> (bit & 7)) & 0xff; // bits of this byte before `bit`
  id[byte] =
    ((self[byte] as number) & keep) | (~(self[byte] as number) & mask) | ((id[byte] as number) & (mask - 1));
  return id as NodeId;
}

export function contact(id: NodeId, port = 7000): Contact {
  return { id, addresses: [`tcp://127.0.0.1:${port}`] };
}
