import { type Millis, type NodeId, Rng, UsageError } from '@postern/core';
import type { CryptoProvider } from '@postern/crypto';
import {
  type Contact,
  KADEMLIA_PROTOCOL,
  KademliaMachine,
  type KademliaEvent,
  type KademliaLimits,
  type QueryId,
  type SignedRecord,
  meetsIdPuzzle,
  resolveKademliaLimits,
} from '@postern/kademlia';
import { type NodeKeys, createNodeKeys } from '@postern/transport';
import { type Clock, systemClock } from './clock.ts';
import { Host, type HostLimits } from './host.ts';

export interface DhtNodeOptions {
  readonly crypto: CryptoProvider;
  readonly keys: NodeKeys;
  readonly clock?: Clock;
  readonly limits?: Partial<KademliaLimits>;
  readonly hostLimits?: Partial<HostLimits>;
}

/** Node keys whose id meets the DHT's id puzzle (`limits.idPuzzleBits`): ~2^bits key draws. */
export function createDhtNodeKeys(crypto: CryptoProvider, limits: Partial<KademliaLimits> = {}): NodeKeys {
  const bits = resolveKademliaLimits(limits).idPuzzleBits;
  return createNodeKeys(crypto, { accept: (id) => meetsIdPuzzle(crypto, id, bits) });
}

/** Messages waiting for one dial: more than the RPCs a node's queries send one peer at once is a flood. */
const DIAL_QUEUE_MAX = 16;

/** Dials to nodes the machine wants to reach but has no link to, at once. */
const DIALS_IN_FLIGHT_MAX = 64;

/**
 * A Kademlia node on the network: a Host carrying the machine's RPCs (link protocol
 * KADEMLIA_PROTOCOL) over secure links, real timers for its timeouts and maintenance, and promises
 * for its commands. A message for a node without a link dials one of the addresses the machine
 * knows for it, expecting that node id; a failed dial is left to the machine's RPC timeout.
 */
export class DhtNode {
  readonly host: Host;
  readonly machine: KademliaMachine;
  readonly #clock: Clock;
  readonly #waiting = new Map<QueryId, (event: KademliaEvent) => void>();
  /** Dials in flight, by hex node id, with the messages waiting for each (at most DIAL_QUEUE_MAX). */
  readonly #dialing = new Map<string, Uint8Array[]>();
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: DhtNodeOptions) {
    this.#clock = options.clock ?? systemClock;
    const now = this.#clock.monotonic();
    const bits = resolveKademliaLimits(options.limits).idPuzzleBits;
    if (!meetsIdPuzzle(options.crypto, options.keys.nodeId, bits)) {
      throw new UsageError(
        'DHT_ID_PUZZLE',
        `this node id does not meet the DHT's ${bits}-bit id puzzle: create its keys with createDhtNodeKeys`,
      );
    }
    this.machine = new KademliaMachine({
      self: options.keys.nodeId,
      crypto: options.crypto,
      rng: Rng.fromSeed(toSeed(options.crypto.randomBytes(16))),
      wallClockOffsetMs: this.#clock.wall() - now,
      ...(options.limits ? { limits: options.limits } : {}),
      now,
    });
    this.host = new Host({
      crypto: options.crypto,
      keys: options.keys,
      clock: this.#clock,
      capabilities: ['kademlia'],
      ...(options.hostLimits ? { limits: options.hostLimits } : {}),
      onLinkUp: (nodeId, announcement) =>
        this.#input((now) =>
          this.machine.peerConnected({ id: nodeId, addresses: announcement.addresses }, now),
        ),
      onMessage: (from, protocol, bytes) => {
        if (protocol === KADEMLIA_PROTOCOL)
          this.#input((now) => this.machine.handleReceive(from, bytes, now));
      },
    });
  }

  get nodeId(): NodeId {
    return this.machine.self;
  }

  /** Dials the given addresses and looks up our own id through the nodes that answer. */
  async bootstrap(addresses: readonly string[]): Promise<Contact[]> {
    const contacts: Contact[] = [];
    for (const address of addresses) {
      try {
        contacts.push({ id: await this.host.dial(address), addresses: [address] });
      } catch {
        // an unreachable bootstrap node: the others may do
      }
    }
    const found = await this.#command((now) => this.machine.bootstrap(contacts, now));
    return found.type === 'nodes-found' ? found.closest : [];
  }

  async findValue(key: Uint8Array): Promise<SignedRecord | undefined> {
    const found = await this.#command((now) => this.machine.findValue(key, now));
    return found.type === 'value-found' ? found.record : undefined;
  }

  /** Stores the record on the k closest nodes; resolves to how many kept it. */
  async store(record: SignedRecord): Promise<number> {
    const done = await this.#command((now) => this.machine.storeRecord(record, now));
    return done.type === 'stored' ? done.stored : 0;
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    await this.host.close();
  }

  #command(start: (now: Millis) => QueryId): Promise<KademliaEvent> {
    return new Promise((resolve) => {
      this.#input((now) => this.#waiting.set(start(now), resolve));
    });
  }

  /** Runs one input on the machine, then carries out what it asks for. */
  #input(apply: (now: Millis) => void): void {
    if (this.#closed) return;
    apply(this.#clock.monotonic());
    this.#drain();
  }

  #drain(): void {
    for (;;) {
      const output = this.machine.pollOutput();
      if (output.type === 'timeout') return this.#arm(output.at);
      if (output.type === 'transmit') this.#send(output.to, output.bytes);
      else this.#event(output.event);
    }
  }

  #event(event: KademliaEvent): void {
    if (event.type === 'peer-misbehaved') return;
    const resolve = this.#waiting.get(event.query);
    if (resolve === undefined) return;
    this.#waiting.delete(event.query);
    resolve(event);
  }

  #send(to: NodeId, bytes: Uint8Array): void {
    if (this.host.send(to, KADEMLIA_PROTOCOL, bytes).ok) return;
    const key = Buffer.from(to).toString('hex');
    const waiting = this.#dialing.get(key);
    if (waiting !== undefined) {
      // Several queries often ask a new node at once: all of them go out when its link is up.
      if (waiting.length < DIAL_QUEUE_MAX) waiting.push(bytes);
      return;
    }
    const address = this.machine.addressesOf(to)?.[0];
    if (address === undefined || this.#dialing.size >= DIALS_IN_FLIGHT_MAX) return;
    const queue = [bytes];
    this.#dialing.set(key, queue);
    this.host
      .dial(address, { expectedNodeId: to })
      .then(() => {
        for (const message of queue) this.host.send(to, KADEMLIA_PROTOCOL, message);
      })
      .catch(() => undefined) // unreachable: the machine's RPCs time out
      .finally(() => this.#dialing.delete(key));
  }

  #arm(at: number | undefined): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (at === undefined || this.#closed) return;
    this.#timer = setTimeout(
      () => this.#input((now) => this.machine.handleTimeout(now)),
      Math.max(0, at - this.#clock.monotonic()),
    );
    this.#timer.unref();
  }
}

function toSeed(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}
