/** Branded types: ids and units that the compiler keeps apart although they share a representation. */
export type Brand<T, B extends string> = T & { readonly __brand: B };

/** A duration or a point in time in milliseconds. Monotonic (timers) and wall-clock time are both Millis; names say which. */
export type Millis = Brand<number, 'Millis'>;
/** 32-byte network-layer id: the hash of a node's transport static key (the Kademlia id). */
export type NodeId = Brand<Uint8Array, 'NodeId'>;
/** 32-byte user-layer id: the user's Ed25519 public key. Never reveals a network address. */
export type MessagingId = Brand<Uint8Array, 'MessagingId'>;

export function millis(n: number): Millis {
  return n as Millis;
}
