import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { type MessagingId, type Millis, type NodeId, Rng, UsageError, toHex, utf8 } from '@postern/core';
import { type CryptoProvider, KeyBytes } from '@postern/crypto';
import type { Identity } from '@postern/identity';
import type { KademliaLimits } from '@postern/kademlia';
import { type NodeEvent, PosternNode, type RelayMailboxLimits } from '@postern/node';
import { ADDRESSES_MAX, ADDRESS_BYTES_MAX, type ReplicantLimits } from '@postern/replicant';
import { type NodeKeys, createNodeKeys, nodeIdOf } from '@postern/transport';
import { type Clock, systemClock } from './clock.ts';
import { formatAddress, parseAddress } from './address.ts';
import { Host, type HostLimits } from './host.ts';
import { loadOrCreateIdentity, saveIdentity } from './identity-file.ts';
import { NodeStore, NodeStoreError, type NodeWrite } from './node-store.ts';
import { RelayLinks } from './relay/relay-links.ts';

export interface NodeRuntimeOptions {
  readonly crypto: CryptoProvider;
  readonly dataDir: string;
  /** The label of a new identity (first run only). */
  readonly label: string;
  readonly clock?: Clock;
  readonly kademlia?: Partial<KademliaLimits>;
  readonly replicant?: Partial<ReplicantLimits>;
  readonly relay?: Partial<RelayMailboxLimits>;
  readonly hostLimits?: Partial<HostLimits>;
  /** Lock the node database while running (a daemon: one node per data directory). */
  readonly exclusive?: boolean;
}

/** The node database's file name inside the data directory. */
export const NODE_DB_FILE = 'node.db';

/** Messages waiting for one dial. */
const DIAL_QUEUE_MAX = 64;
const DIALS_IN_FLIGHT_MAX = 64;

/**
 * A Postern node on a real machine: the sans-I/O PosternNode bound to secure links (Host), real
 * timers and a SQLite database. After every input the machine is drained; its persist events are
 * committed in one transaction *before* any of the drain's messages is sent, so what a store-ack
 * or a receipt promises is on disk when the promise leaves (a kill -9 at any instant loses
 * nothing acknowledged). The node id is stable: its transport keys live in the database.
 */
export class NodeRuntime {
  readonly host: Host;
  readonly node: PosternNode;
  readonly store: NodeStore;
  readonly #relays: RelayLinks;
  readonly #crypto: CryptoProvider;
  readonly #clock: Clock;
  readonly #dataDir: string;
  readonly #listeners = new Set<(event: NodeEvent) => void>();
  readonly #failureListeners = new Set<(error: NodeStoreError) => void>();
  readonly #dialing = new Map<string, { protocol: number; bytes: Uint8Array }[]>();
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #advertised: readonly string[] = [];

  constructor(options: NodeRuntimeOptions) {
    this.#crypto = options.crypto;
    this.#clock = options.clock ?? systemClock;
    this.#dataDir = options.dataDir;
    const { identity } = loadOrCreateIdentity(options.crypto, options.dataDir, options.label);
    this.store = new NodeStore(join(options.dataDir, NODE_DB_FILE), {
      exclusive: options.exclusive ?? false,
    });
    const keys = this.#nodeKeys();
    const now = this.#clock.monotonic();
    this.node = new PosternNode({
      crypto: options.crypto,
      identity,
      node: keys.nodeId,
      rng: Rng.fromSeed(toHex(options.crypto.randomBytes(16))),
      wallClockOffsetMs: this.#clock.wall() - now,
      now,
      rows: this.store.rows(),
      ...(options.kademlia ? { kademlia: options.kademlia } : {}),
      ...(options.replicant ? { replicant: options.replicant } : {}),
      ...(options.relay ? { relay: options.relay } : {}),
    });
    this.#relays = new RelayLinks(options.crypto, (apply) => this.#unprompted(apply));
    this.host = new Host({
      crypto: options.crypto,
      keys,
      clock: this.#clock,
      capabilities: ['kademlia', 'replicant'],
      ...(options.hostLimits ? { limits: options.hostLimits } : {}),
      onLinkUp: (nodeId, announcement) =>
        this.#unprompted((n, t) => n.peerConnected({ id: nodeId, addresses: announcement.addresses }, t)),
      onMessage: (from, protocol, bytes) =>
        this.#unprompted((n, t) => n.handleReceive(from, withProtocol(protocol, bytes), t)),
    });
  }

  get identity(): Identity {
    return this.node.identity;
  }

  get nodeId(): NodeId {
    return this.node.node;
  }

  get messagingId(): MessagingId {
    return this.node.identity.messagingId;
  }

  /**
   * Listens on TCP (and WebSocket if `wsPort` is given), then goes online: joins the DHT through
   * `seeds` (addresses) and tells contacts. Returns the TCP address.
   */
  async start(
    options: {
      port?: number;
      wsPort?: number;
      host?: string;
      seeds?: readonly string[];
      /** The addresses contacts are told (default: those listened on; see `advertisable`). */
      announce?: readonly string[];
    } = {},
  ): Promise<string> {
    const host = options.host ?? '127.0.0.1';
    const address = await this.host.listenTcp(options.port ?? 0, host);
    const ws = options.wsPort === undefined ? [] : [await this.host.listenWebSocket(options.wsPort, host)];
    this.advertise(options.announce ?? advertisable([address, ...ws]));
    const seeds: { id: NodeId; addresses: string[] }[] = [];
    for (const seed of options.seeds ?? []) {
      try {
        seeds.push({ id: await this.host.dial(seed), addresses: [seed] });
      } catch {
        // an unreachable seed: the others, and the contacts saved last time, may do
      }
    }
    this.input((n, t) => n.start(seeds, t));
    return address;
  }

  /** The addresses contacts are told to reach this node at. */
  get addresses(): readonly string[] {
    return this.#advertised;
  }

  /** Tells contacts (through presence) to reach this node at `addrs` (at most 4, each ≤ 256 bytes). */
  advertise(addrs: readonly string[]): void {
    if (addrs.length > ADDRESSES_MAX || addrs.some((a) => utf8(a).length > ADDRESS_BYTES_MAX))
      throw new UsageError(
        'NODE_BAD_ADDRESSES',
        `a node gives contacts at most ${ADDRESSES_MAX} addresses of at most ${ADDRESS_BYTES_MAX} bytes each`,
      );
    this.#advertised = [...addrs];
    this.input((n, t) => n.setAddresses(this.#advertised, t));
  }

  /**
   * Called if the database fails while the node works on its own (a timer, a message from a peer):
   * the node has stopped, and its owner should exit. A failure inside `input` is thrown instead.
   */
  onFailure(listener: (error: NodeStoreError) => void): void {
    this.#failureListeners.add(listener);
  }

  /** Runs an input the node did not ask for; a database failure goes to `onFailure`, not up the stack. */
  #unprompted(apply: (node: PosternNode, now: Millis) => unknown): void {
    try {
      this.input(apply);
    } catch (error) {
      if (!(error instanceof NodeStoreError)) throw error;
      for (const listener of this.#failureListeners) listener(error);
    }
  }

  /** Called with every event the node emits (after its writes are committed). */
  onEvent(listener: (event: NodeEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Runs one input or command on the node, then carries out what it asks for. */
  input<T>(apply: (node: PosternNode, now: Millis) => T): T | undefined {
    if (this.#closed) return undefined;
    const result = apply(this.node, this.#clock.monotonic());
    this.#drain();
    return result;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    await this.#relays.close();
    await this.host.close();
    this.store.close();
  }

  #drain(): void {
    const writes: NodeWrite[] = [];
    const transmits: { to: NodeId; bytes: Uint8Array }[] = [];
    const events: NodeEvent[] = [];
    for (;;) {
      const output = this.node.pollOutput();
      if (output.type === 'timeout') {
        this.#arm(output.at);
        break;
      }
      if (output.type === 'transmit') transmits.push(output);
      else if (output.event.type === 'persist') writes.push(output.event);
      else events.push(output.event);
    }
    try {
      this.store.apply(writes); // before anything that relies on it leaves
    } catch (cause) {
      // The machine has moved on but its state is not on disk: nothing of this drain may leave, and
      // the node must not go on (a retried request would be answered from memory alone).
      this.#closed = true;
      if (this.#timer !== undefined) clearTimeout(this.#timer);
      void this.host.close();
      throw new NodeStoreError(
        'NODE_STORE_WRITE_FAILED',
        `the node database could not be written; the node stopped: ${(cause as Error).message}`,
        cause,
      );
    }
    for (const t of transmits) this.#send(t.to, t.bytes);
    for (const event of events) {
      if (event.type === 'relay-connect' || event.type === 'relay-disconnect' || event.type === 'relay-send')
        this.#relays.handle(event);
      if (event.type === 'identity-changed') saveIdentity(this.#dataDir, this.node.identity);
      for (const listener of this.#listeners) listener(event);
    }
  }

  #send(to: NodeId, bytes: Uint8Array): void {
    const protocol = bytes[0] as number;
    const payload = bytes.subarray(1);
    if (this.host.send(to, protocol, payload).ok) return;
    const key = toHex(to);
    const waiting = this.#dialing.get(key);
    if (waiting !== undefined) {
      if (waiting.length < DIAL_QUEUE_MAX) waiting.push({ protocol, bytes: payload });
      return;
    }
    const address = this.node.addressesOf(to)?.[0];
    if (address === undefined || this.#dialing.size >= DIALS_IN_FLIGHT_MAX) return; // the machine's timeouts take it
    const queue = [{ protocol, bytes: payload }];
    this.#dialing.set(key, queue);
    this.host
      .dial(address, { expectedNodeId: to })
      .then(() => {
        for (const m of queue) this.host.send(to, m.protocol, m.bytes);
      })
      .catch(() => this.#unprompted((n, t) => n.peerUnreachable(to, t)))
      .finally(() => this.#dialing.delete(key));
  }

  #arm(at: number | undefined): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (at === undefined || this.#closed) return;
    this.#timer = setTimeout(
      () => this.#unprompted((n, t) => n.handleTimeout(t)),
      Math.max(0, Math.min(at - this.#clock.monotonic(), 2 ** 31 - 1)),
    );
  }

  /** The node's transport keys: from the database, or made and saved on first run. */
  #nodeKeys(): NodeKeys {
    const staticSecret = this.store.secret('node-static');
    const signingSeed = this.store.secret('node-signing-seed');
    if (staticSecret?.length === KeyBytes.x25519 && signingSeed?.length === KeyBytes.ed25519Seed) {
      const publicKey = this.#crypto.x25519PublicKey(staticSecret);
      return {
        staticKey: { publicKey, secretKey: staticSecret },
        signing: this.#crypto.ed25519KeyPairFromSeed(signingSeed),
        nodeId: nodeIdOf(this.#crypto, publicKey),
      };
    }
    const keys = createNodeKeys(this.#crypto);
    this.store.setSecret('node-static', keys.staticKey.secretKey);
    this.store.setSecret('node-signing-seed', keys.signing.secretKey.subarray(0, KeyBytes.ed25519Seed));
    return keys;
  }
}

/**
 * What to tell contacts for the addresses listened on: a wildcard (0.0.0.0, ::) is not an address
 * anyone can dial, so it becomes this machine's own interface addresses (at most 4 in all).
 */
export function advertisable(listening: readonly string[]): string[] {
  const out: string[] = [];
  // Two of each scheme at most, so a machine with many interfaces still gives its WebSocket address.
  const perScheme = Math.max(1, Math.floor(ADDRESSES_MAX / Math.max(1, listening.length)));
  for (const text of listening) {
    const address = parseAddress(text);
    if (address.host !== '0.0.0.0' && address.host !== '::') {
      out.push(text);
      continue;
    }
    const own: string[] = [];
    for (const list of Object.values(networkInterfaces())) {
      for (const nic of list ?? []) {
        if (nic.internal || (address.host === '0.0.0.0' && nic.family !== 'IPv4')) continue;
        if (nic.family === 'IPv6' && nic.address.startsWith('fe80')) continue;
        own.push(formatAddress({ ...address, host: nic.address }));
      }
    }
    out.push(...own.slice(0, perScheme));
  }
  return out.slice(0, ADDRESSES_MAX);
}

function withProtocol(protocol: number, bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length + 1);
  out[0] = protocol;
  out.set(bytes, 1);
  return out;
}
