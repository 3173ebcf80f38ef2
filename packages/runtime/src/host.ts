import { type AddressInfo, type Server, createServer } from 'node:net';
import { performance } from 'node:perf_hooks';
import {
  BoundedLru,
  type NodeId,
  type Result,
  bytesEqual,
  compareBytes,
  err,
  ok,
  toHex,
} from '@postern/core';
import type { CryptoProvider } from '@postern/crypto';
import {
  type CloseCodeName,
  Link,
  type LinkEvent,
  type LinkLimits,
  type LinkSendError,
  type NodeAnnouncement,
  type NodeKeys,
  signAnnouncement,
  VerifiedAnnouncements,
} from '@postern/transport';
import { WebSocketServer } from 'ws';
import { type Address, formatAddress, parseAddress } from './address.ts';
import { type ByteStream, tcpStream, webSocketStream } from './byte-stream.ts';
import { type Clock, systemClock } from './clock.ts';
import { connect } from './connect.ts';
import { LinkDriver } from './link-driver.ts';

/**
 * A node's network presence: listeners (TCP, WebSocket), dialing, and the links it holds, at most
 * one per peer node. Protocol machines see only `send(nodeId, protocol, bytes)` and the handlers.
 * Spec: docs/protocols/transport.md ("Connection manager").
 */
export interface HostLimits {
  /** Connections at once, inbound and outbound, until their sockets are closed. */
  readonly connectionsMax: number;
  /** A link with no application message either way for this long is closed. */
  readonly idleMs: number;
  /** A dial with no connection after this long fails. */
  readonly dialTimeoutMs: number;
  /** Backoff after a failed dial to an address: doubles from min to max. */
  readonly dialBackoffMinMs: number;
  readonly dialBackoffMaxMs: number;
  /** Addresses whose recent failures are remembered (least recently failed forgotten first). */
  readonly backoffAddressesMax: number;
  /** How long a graceful close waits for links to flush before cutting them. */
  readonly closeGraceMs: number;
  /**
   * Peer announcements remembered as verified, so a reconnecting peer's signature is not checked
   * again: 32 bytes of digest each; a few thousand covers a node's routing table and its clients.
   */
  readonly verifiedAnnouncementsMax: number;
}

export const DEFAULT_HOST_LIMITS: HostLimits = {
  connectionsMax: 256,
  idleMs: 5 * 60_000,
  dialTimeoutMs: 10_000,
  dialBackoffMinMs: 1_000,
  dialBackoffMaxMs: 5 * 60_000,
  backoffAddressesMax: 4096,
  closeGraceMs: 2_000,
  verifiedAnnouncementsMax: 4096,
};

export interface HostOptions {
  readonly crypto: CryptoProvider;
  readonly keys: NodeKeys;
  readonly capabilities?: readonly string[];
  readonly limits?: Partial<HostLimits>;
  readonly linkLimits?: Partial<LinkLimits>;
  readonly clock?: Clock;
  readonly onMessage?: (from: NodeId, protocol: number, bytes: Uint8Array) => void;
  readonly onLinkUp?: (nodeId: NodeId, announcement: NodeAnnouncement) => void;
  readonly onLinkDown?: (nodeId: NodeId | undefined, event: Extract<LinkEvent, { type: 'closed' }>) => void;
  readonly onDrained?: (nodeId: NodeId, protocol: number) => void;
}

export type HostSendError = LinkSendError | { code: 'HOST_NOT_CONNECTED' } | { code: 'HOST_CLOSED' };

export class DialError extends Error {
  override name = 'DialError';
  readonly code:
    | 'DIAL_BACKOFF'
    | 'DIAL_FAILED'
    | 'DIAL_REFUSED_BY_LINK'
    | 'DIAL_BAD_ADDRESS'
    | 'DIAL_TOO_MANY'
    | 'DIAL_HOST_CLOSED';
  readonly retryAtMs: number | undefined;

  constructor(
    code: DialError['code'],
    message: string,
    options: { retryAtMs?: number; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.code = code;
    this.retryAtMs = options.retryAtMs;
  }
}

interface DialOptions {
  readonly expectedNodeId?: NodeId;
  readonly remoteStaticKey?: Uint8Array;
}

interface Dialer {
  resolve(id: NodeId): void;
  reject(e: Error): void;
}

export class Host {
  readonly nodeId: NodeId;
  readonly limits: HostLimits;
  readonly #options: HostOptions;
  readonly #clock: Clock;
  /** Every connection whose socket is not yet closed: what `connectionsMax` counts. */
  readonly #drivers = new Set<LinkDriver>();
  readonly #byNode = new Map<string, LinkDriver>();
  readonly #establishedAt = new Map<LinkDriver, number>();
  readonly #lastActivity = new Map<LinkDriver, number>();
  readonly #dialing = new Map<string, Promise<NodeId>>();
  readonly #cancels = new Set<() => void>();
  readonly #backoff: BoundedLru<string, { failures: number; retryAt: number }>;
  readonly #verified: VerifiedAnnouncements;
  readonly #servers: { close(): void }[] = [];
  readonly #addresses: string[] = [];
  #sweeper: NodeJS.Timeout | undefined;
  #announcement: NodeAnnouncement | undefined;
  #closed = false;

  constructor(options: HostOptions) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.nodeId = options.keys.nodeId;
    this.limits = { ...DEFAULT_HOST_LIMITS, ...options.limits };
    this.#backoff = new BoundedLru(this.limits.backoffAddressesMax);
    this.#verified = new VerifiedAnnouncements(this.limits.verifiedAnnouncementsMax);
    this.#sweeper = setInterval(() => this.#closeIdle(), Math.max(1000, this.limits.idleMs / 4));
    this.#sweeper.unref();
  }

  /** The addresses this host listens on, as `tcp://host:port` and `ws://host:port`. */
  get addresses(): readonly string[] {
    return this.#addresses;
  }

  get connectionCount(): number {
    return this.#drivers.size;
  }

  isConnected(nodeId: NodeId): boolean {
    return this.#byNode.get(toHex(nodeId))?.link.state === 'established';
  }

  async listenTcp(port: number, host = '127.0.0.1'): Promise<string> {
    const server: Server = createServer((socket) => this.#accept(tcpStream(socket)));
    await listening(server, (done) => server.listen(port, host, done));
    return this.#listeningOn(server, { scheme: 'tcp', host, port: (server.address() as AddressInfo).port });
  }

  async listenWebSocket(port: number, host = '127.0.0.1'): Promise<string> {
    const server = new WebSocketServer({ port, host, maxPayload: 1024 * 1024 });
    await listening(server, (done) => server.once('listening', done));
    server.on('connection', (ws) => this.#accept(webSocketStream(ws)));
    return this.#listeningOn(server, { scheme: 'ws', host, port: (server.address() as AddressInfo).port });
  }

  /**
   * Connects to an address and completes the handshake; resolves to the peer's node id. Dials to
   * an address already being dialed share one attempt (each caller's expected node id is still
   * checked); a node already linked is not dialed again. An IK dial the peer refuses is retried
   * once with XX (its static key may have changed).
   */
  dial(address: string, options: DialOptions = {}): Promise<NodeId> {
    if (this.#closed) return Promise.reject(new DialError('DIAL_HOST_CLOSED', 'this host is closed'));
    let parsed: Address;
    try {
      parsed = parseAddress(address);
    } catch (cause) {
      return Promise.reject(new DialError('DIAL_BAD_ADDRESS', (cause as Error).message, { cause }));
    }
    const existing = options.expectedNodeId && this.#byNode.get(toHex(options.expectedNodeId));
    if (existing?.link.state === 'established') return Promise.resolve(options.expectedNodeId as NodeId);
    const shared = this.#dialing.get(address) ?? this.#startDial(address, parsed, options);
    return shared.then((nodeId) => {
      if (options.expectedNodeId && !bytesEqual(nodeId, options.expectedNodeId)) {
        throw new DialError('DIAL_REFUSED_BY_LINK', `${address} is another node than the one expected`);
      }
      return nodeId;
    });
  }

  send(nodeId: NodeId, protocol: number, bytes: Uint8Array): Result<void, HostSendError> {
    if (this.#closed) return err({ code: 'HOST_CLOSED' });
    const driver = this.#byNode.get(toHex(nodeId));
    if (driver === undefined) return err({ code: 'HOST_NOT_CONNECTED' });
    const sent = driver.link.send(protocol, bytes);
    if (!sent.ok) return sent;
    this.#lastActivity.set(driver, this.#clock.monotonic());
    driver.flush();
    return ok(undefined);
  }

  /** Closes one peer's link: it broke a protocol's rules (a relay client that does not read, say). */
  disconnect(nodeId: NodeId, code: CloseCodeName, detail: string): void {
    const driver = this.#byNode.get(toHex(nodeId));
    if (driver !== undefined) this.#closeLink(driver, code, detail);
  }

  /** Closes every link gracefully (queued messages are sent), cancels dials, closes the listeners. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#sweeper) clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    for (const cancel of this.#cancels) cancel();
    for (const server of this.#servers) server.close();
    for (const driver of this.#drivers) this.#closeLink(driver, 'ShuttingDown', 'the node is shutting down');
    await waitUntil(() => this.#drivers.size === 0, this.limits.closeGraceMs);
    for (const driver of this.#drivers) driver.stream.destroy();
    await waitUntil(() => this.#drivers.size === 0, this.limits.closeGraceMs); // their close events
  }

  #startDial(address: string, parsed: Address, options: DialOptions): Promise<NodeId> {
    const backoff = this.#backoff.peek(address);
    const now = this.#clock.monotonic();
    if (backoff && now < backoff.retryAt) {
      const wait = Math.ceil(backoff.retryAt - now);
      return Promise.reject(
        new DialError('DIAL_BACKOFF', `${address} failed recently; retry after ${wait} ms`, {
          retryAtMs: backoff.retryAt,
        }),
      );
    }
    const withFallback = this.#dialOnce(parsed, options).catch((error: unknown) => {
      const refusedIk =
        options.remoteStaticKey && error instanceof DialError && error.code === 'DIAL_REFUSED_BY_LINK';
      if (!refusedIk) throw error;
      const { remoteStaticKey: _key, ...xx } = options;
      return this.#dialOnce(parsed, xx);
    });
    const attempt = withFallback.then(
      (nodeId) => {
        this.#backoff.delete(address);
        return nodeId;
      },
      (error: unknown) => {
        // Only the network's failures count against an address, not a caller's mistake (a bad key).
        const network =
          error instanceof DialError &&
          (error.code === 'DIAL_FAILED' || error.code === 'DIAL_REFUSED_BY_LINK');
        if (network) this.#recordFailure(address);
        throw error;
      },
    );
    const tracked = attempt.finally(() => this.#dialing.delete(address));
    this.#dialing.set(address, tracked);
    return tracked;
  }

  async #dialOnce(address: Address, options: DialOptions): Promise<NodeId> {
    if (this.#drivers.size >= this.limits.connectionsMax) {
      throw new DialError('DIAL_TOO_MANY', `already ${this.#drivers.size} connections, the most allowed`);
    }
    const link = this.#newLink('initiator', options); // a bad key fails here, before any socket
    const attempt = connect(address, this.limits.dialTimeoutMs);
    this.#cancels.add(attempt.cancel);
    let stream: ByteStream;
    try {
      stream = await attempt.stream;
    } catch (cause) {
      throw new DialError('DIAL_FAILED', (cause as Error).message, { cause });
    } finally {
      this.#cancels.delete(attempt.cancel);
    }
    if (this.#closed) {
      stream.destroy();
      throw new DialError('DIAL_HOST_CLOSED', 'this host closed while dialing');
    }
    return new Promise<NodeId>((resolve, reject) => this.#attach(link, stream, { resolve, reject }));
  }

  #accept(stream: ByteStream): void {
    if (this.#closed || this.#drivers.size >= this.limits.connectionsMax) {
      stream.destroy(); // no handshake yet, so no way to say why: the dialer backs off
      return;
    }
    this.#attach(this.#newLink('responder', {}), stream, undefined);
  }

  #listeningOn(
    server: { close(): void; on(event: 'error', listener: () => void): unknown },
    address: Address,
  ): string {
    // Errors after listening (EMFILE on accept, say) are transient and must not crash the process.
    server.on('error', () => undefined);
    this.#servers.push(server);
    const text = formatAddress(address);
    this.#addresses.push(text);
    this.#announcement = undefined;
    return text;
  }

  /** Signed once and reused until the addresses change: a signature per link would halve handshake rates. */
  #currentAnnouncement(): NodeAnnouncement {
    this.#announcement ??= signAnnouncement(this.#options.crypto, this.#options.keys, {
      capabilities: this.#options.capabilities ?? [],
      addresses: [...this.#addresses],
      timestampMs: this.#clock.wall(),
    });
    return this.#announcement;
  }

  #newLink(role: 'initiator' | 'responder', options: DialOptions): Link {
    return new Link({
      crypto: this.#options.crypto,
      keys: this.#options.keys,
      announcement: this.#currentAnnouncement(),
      role,
      ...(options.remoteStaticKey
        ? { pattern: 'IK' as const, remoteStaticKey: options.remoteStaticKey }
        : {}),
      ...(options.expectedNodeId ? { expectedNodeId: options.expectedNodeId } : {}),
      ...(this.#options.linkLimits ? { limits: this.#options.linkLimits } : {}),
      verifiedAnnouncements: this.#verified,
      now: this.#clock.monotonic(),
    });
  }

  #attach(link: Link, stream: ByteStream, dialer: Dialer | undefined): void {
    const driver = new LinkDriver(
      link,
      stream,
      this.#clock,
      (event) => this.#onEvent(driver, event, dialer),
      () => this.#drivers.delete(driver),
    );
    this.#drivers.add(driver);
    this.#lastActivity.set(driver, this.#clock.monotonic());
  }

  #onEvent(driver: LinkDriver, event: LinkEvent, dialer: Dialer | undefined): void {
    switch (event.type) {
      case 'established': {
        const outcome = this.#keepNewLink(driver, event.nodeId);
        dialer?.resolve(event.nodeId); // reachable, over this link or the one kept
        if (outcome === 'first') this.#options.onLinkUp?.(event.nodeId, event.announcement);
        return;
      }
      case 'message':
        this.#lastActivity.set(driver, this.#clock.monotonic());
        this.#options.onMessage?.(driver.link.remoteNodeId as NodeId, event.protocol, event.bytes);
        return;
      case 'drained':
        this.#options.onDrained?.(driver.link.remoteNodeId as NodeId, event.protocol);
        return;
      case 'closed': {
        this.#lastActivity.delete(driver);
        this.#establishedAt.delete(driver);
        const nodeId = driver.link.remoteNodeId;
        dialer?.reject(new DialError('DIAL_REFUSED_BY_LINK', `link closed: ${event.code} (${event.detail})`));
        // A duplicate that lost to another link to the same node is not the node going away.
        const current = nodeId === undefined || this.#byNode.get(toHex(nodeId)) === driver;
        if (nodeId && current) this.#byNode.delete(toHex(nodeId));
        if (current) this.#options.onLinkDown?.(nodeId, event);
        return;
      }
    }
  }

  /**
   * One link per peer. When both sides dialed at once (the two handshakes overlap) each holds two
   * links, and both keep the one whose initiator has the smaller node id, so they agree without
   * talking about it. Otherwise the new link wins: the old one may be dead without anyone knowing.
   */
  #keepNewLink(driver: LinkDriver, nodeId: NodeId): 'first' | 'replaced' | 'dropped' {
    const now = this.#clock.monotonic();
    this.#establishedAt.set(driver, now);
    const key = toHex(nodeId);
    const current = this.#byNode.get(key);
    if (current === undefined || current.link.state !== 'established') {
      this.#byNode.set(key, driver);
      return 'first';
    }
    const overlapping = now - (this.#establishedAt.get(current) ?? 0) < driver.link.limits.handshakeTimeoutMs;
    const initiatorOf = (d: LinkDriver) => (d.link.role === 'initiator' ? this.nodeId : nodeId);
    const keepNew = !overlapping || compareBytes(initiatorOf(driver), initiatorOf(current)) < 0;
    if (keepNew) this.#byNode.set(key, driver);
    this.#closeLink(keepNew ? current : driver, 'Duplicate', 'another link to this node is kept');
    return keepNew ? 'replaced' : 'dropped';
  }

  #closeLink(driver: LinkDriver, code: CloseCodeName, detail: string): void {
    driver.link.close(this.#clock.monotonic(), code, detail);
    driver.flush();
  }

  #closeIdle(): void {
    const now = this.#clock.monotonic();
    for (const [driver, last] of this.#lastActivity) {
      if (now - last >= this.limits.idleMs) this.#closeLink(driver, 'IdleTimeout', 'no messages for a while');
    }
  }

  #recordFailure(address: string): void {
    const failures = (this.#backoff.peek(address)?.failures ?? 0) + 1;
    const delay = Math.min(this.limits.dialBackoffMaxMs, this.limits.dialBackoffMinMs * 2 ** (failures - 1));
    this.#backoff.set(address, { failures, retryAt: this.#clock.monotonic() + delay });
  }
}

/** Resolves once a server listens; rejects with the error that stopped it (a port in use, say). */
function listening(
  server: { once(event: 'error', listener: (e: Error) => void): unknown },
  start: (done: () => void) => void,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    start(resolve);
  });
}

/** Resolves when `done()` holds (checked every 10 ms) or after `timeoutMs`. */
async function waitUntil(done: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!done() && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
}
