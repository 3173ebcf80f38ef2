import { type AddressInfo, type Server, createConnection, createServer } from 'node:net';
import { performance } from 'node:perf_hooks';
import { type NodeId, type Result, compareBytes, err, ok, toHex } from '@postern/core';
import type { CryptoProvider } from '@postern/crypto';
import {
  Link,
  type LinkEvent,
  type LinkLimits,
  type LinkSendError,
  type NodeAnnouncement,
  type NodeKeys,
  signAnnouncement,
} from '@postern/transport';
import { WebSocket, WebSocketServer } from 'ws';
import { type ByteStream, tcpStream, webSocketStream } from './byte-stream.ts';
import { type Clock, systemClock } from './clock.ts';
import { LinkDriver } from './link-driver.ts';
import { type Address, formatAddress, parseAddress } from './address.ts';

/**
 * A node's network presence: listeners (TCP, WebSocket), dialing, and the links it holds, at most
 * one per peer node. Protocol machines see only `send(nodeId, protocol, bytes)` and the handlers.
 */
export interface HostLimits {
  /** Links at once, handshaking ones included; more inbound connections are refused. */
  readonly connectionsMax: number;
  /** A link with no application message either way for this long is closed. */
  readonly idleMs: number;
  /** Backoff after a failed dial to an address: doubles from min to max. */
  readonly dialBackoffMinMs: number;
  readonly dialBackoffMaxMs: number;
  /** How long a graceful close waits for links to flush before cutting them. */
  readonly closeGraceMs: number;
}

export const DEFAULT_HOST_LIMITS: HostLimits = {
  connectionsMax: 256,
  idleMs: 5 * 60_000,
  dialBackoffMinMs: 1_000,
  dialBackoffMaxMs: 5 * 60_000,
  closeGraceMs: 2_000,
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

export type HostSendError = LinkSendError | { code: 'HOST_NOT_CONNECTED' };

export class DialError extends Error {
  override name = 'DialError';
  readonly code: 'DIAL_BACKOFF' | 'DIAL_FAILED' | 'DIAL_REFUSED_BY_LINK';
  readonly retryAtMs: number | undefined;

  constructor(code: DialError['code'], message: string, retryAtMs?: number) {
    super(message);
    this.code = code;
    this.retryAtMs = retryAtMs;
  }
}

interface Backoff {
  failures: number;
  retryAt: number;
}

export class Host {
  readonly nodeId: NodeId;
  readonly limits: HostLimits;
  readonly #options: HostOptions;
  readonly #clock: Clock;
  readonly #drivers = new Set<LinkDriver>();
  readonly #byNode = new Map<string, LinkDriver>();
  readonly #lastActivity = new Map<LinkDriver, number>();
  readonly #dialing = new Map<string, Promise<NodeId>>();
  readonly #backoff = new Map<string, Backoff>();
  readonly #servers: { close(): void }[] = [];
  readonly #addresses: string[] = [];
  #sweeper: NodeJS.Timeout | undefined;
  #announcement: NodeAnnouncement | undefined;

  constructor(options: HostOptions) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.nodeId = options.keys.nodeId;
    this.limits = { ...DEFAULT_HOST_LIMITS, ...options.limits };
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
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    this.#servers.push(server);
    const address = formatAddress({ scheme: 'tcp', host, port: (server.address() as AddressInfo).port });
    this.#addresses.push(address);
    this.#announcement = undefined;
    return address;
  }

  async listenWebSocket(port: number, host = '127.0.0.1'): Promise<string> {
    const server = new WebSocketServer({ port, host, maxPayload: 1024 * 1024 });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.once('listening', () => resolve());
    });
    server.on('connection', (ws, request) => {
      this.#accept(
        webSocketStream(
          ws,
          `ws://${request.socket.remoteAddress ?? '?'}:${request.socket.remotePort ?? '?'}`,
        ),
      );
    });
    this.#servers.push(server);
    const address = formatAddress({ scheme: 'ws', host, port: (server.address() as AddressInfo).port });
    this.#addresses.push(address);
    this.#announcement = undefined;
    return address;
  }

  /**
   * Connects to an address and completes the handshake; resolves to the peer's node id. Dials to
   * an address already being dialed share one attempt; a node already linked is not dialed again.
   */
  dial(
    address: string,
    options: { expectedNodeId?: NodeId; remoteStaticKey?: Uint8Array } = {},
  ): Promise<NodeId> {
    const existing = options.expectedNodeId && this.#byNode.get(toHex(options.expectedNodeId));
    if (existing?.link.state === 'established') return Promise.resolve(options.expectedNodeId as NodeId);
    const pending = this.#dialing.get(address);
    if (pending) return pending;
    const backoff = this.#backoff.get(address);
    const now = this.#clock.monotonic();
    if (backoff && now < backoff.retryAt) {
      const error = new DialError(
        'DIAL_BACKOFF',
        `${address} failed recently; retry after ${Math.ceil(backoff.retryAt - now)} ms`,
        backoff.retryAt,
      );
      return Promise.reject(error);
    }
    const attempt = this.#dial(parseAddress(address), options).then(
      (nodeId) => {
        this.#backoff.delete(address);
        return nodeId;
      },
      (error: unknown) => {
        this.#recordFailure(address);
        throw error;
      },
    );
    const tracked = attempt.finally(() => this.#dialing.delete(address));
    this.#dialing.set(address, tracked);
    return tracked;
  }

  send(nodeId: NodeId, protocol: number, bytes: Uint8Array): Result<void, HostSendError> {
    const driver = this.#byNode.get(toHex(nodeId));
    if (driver === undefined) return err({ code: 'HOST_NOT_CONNECTED' });
    const sent = driver.link.send(protocol, bytes);
    if (sent.ok) {
      this.#lastActivity.set(driver, this.#clock.monotonic());
      driver.flush();
    }
    return sent.ok ? ok(undefined) : sent;
  }

  /** Closes every link gracefully (queued messages are sent), then the listeners. */
  async close(): Promise<void> {
    if (this.#sweeper) clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    for (const server of this.#servers) server.close();
    const drivers = [...this.#drivers];
    for (const driver of drivers) {
      driver.link.close(this.#clock.monotonic());
      driver.flush();
    }
    await waitUntil(() => this.#drivers.size === 0, this.limits.closeGraceMs);
    for (const driver of this.#drivers) driver.stream.destroy();
  }

  #dial(
    address: Address,
    options: { expectedNodeId?: NodeId; remoteStaticKey?: Uint8Array },
  ): Promise<NodeId> {
    return new Promise<NodeId>((resolve, reject) => {
      const onReady = (stream: ByteStream) => {
        const link = this.#newLink('initiator', options);
        this.#attach(link, stream, { resolve, reject });
      };
      if (address.scheme === 'tcp') {
        const socket = createConnection({ host: address.host, port: address.port });
        socket.once('connect', () => onReady(tcpStream(socket)));
        socket.once('error', (error) =>
          reject(new DialError('DIAL_FAILED', `${formatAddress(address)}: ${error.message}`)),
        );
      } else {
        const ws = new WebSocket(`ws://${address.host}:${address.port}`, { maxPayload: 1024 * 1024 });
        ws.once('open', () => onReady(webSocketStream(ws, formatAddress(address))));
        ws.once('error', (error) =>
          reject(new DialError('DIAL_FAILED', `${formatAddress(address)}: ${error.message}`)),
        );
      }
    });
  }

  #accept(stream: ByteStream): void {
    if (this.#drivers.size >= this.limits.connectionsMax) {
      stream.destroy(); // no handshake yet, so no way to say why: the dialer backs off
      return;
    }
    this.#attach(this.#newLink('responder', {}), stream, undefined);
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

  #newLink(
    role: 'initiator' | 'responder',
    options: { expectedNodeId?: NodeId; remoteStaticKey?: Uint8Array },
  ): Link {
    const announcement = this.#currentAnnouncement();
    return new Link({
      crypto: this.#options.crypto,
      keys: this.#options.keys,
      announcement,
      role,
      ...(options.remoteStaticKey
        ? { pattern: 'IK' as const, remoteStaticKey: options.remoteStaticKey }
        : {}),
      ...(options.expectedNodeId ? { expectedNodeId: options.expectedNodeId } : {}),
      ...(this.#options.linkLimits ? { limits: this.#options.linkLimits } : {}),
      now: this.#clock.monotonic(),
    });
  }

  #attach(
    link: Link,
    stream: ByteStream,
    dialer: { resolve(id: NodeId): void; reject(e: Error): void } | undefined,
  ): void {
    const driver = new LinkDriver(link, stream, this.#clock, (event) => this.#onEvent(driver, event, dialer));
    this.#drivers.add(driver);
    this.#lastActivity.set(driver, this.#clock.monotonic());
  }

  #onEvent(
    driver: LinkDriver,
    event: LinkEvent,
    dialer: { resolve(id: NodeId): void; reject(e: Error): void } | undefined,
  ): void {
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
        this.#drivers.delete(driver);
        this.#lastActivity.delete(driver);
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
   * One link per peer. When both sides dialed at once each holds two links; both keep the one whose
   * initiator has the smaller node id, so they agree without talking about it.
   */
  #keepNewLink(driver: LinkDriver, nodeId: NodeId): 'first' | 'replaced' | 'dropped' {
    const key = toHex(nodeId);
    const current = this.#byNode.get(key);
    if (current === undefined || current.link.state === 'closed') {
      this.#byNode.set(key, driver);
      return 'first';
    }
    const initiatorOf = (d: LinkDriver) => (d.link.role === 'initiator' ? this.nodeId : nodeId);
    const keepNew = compareBytes(initiatorOf(driver), initiatorOf(current)) < 0;
    const loser = keepNew ? current : driver;
    if (keepNew) this.#byNode.set(key, driver);
    loser.link.close(this.#clock.monotonic());
    loser.flush();
    return keepNew ? 'replaced' : 'dropped';
  }

  #closeIdle(): void {
    const now = this.#clock.monotonic();
    for (const [driver, last] of this.#lastActivity) {
      if (now - last >= this.limits.idleMs) {
        driver.link.close(now);
        driver.flush();
      }
    }
  }

  #recordFailure(address: string): void {
    const failures = (this.#backoff.get(address)?.failures ?? 0) + 1;
    const delay = Math.min(this.limits.dialBackoffMaxMs, this.limits.dialBackoffMinMs * 2 ** (failures - 1));
    this.#backoff.set(address, { failures, retryAt: this.#clock.monotonic() + delay });
  }
}

/** Resolves when `done()` holds (checked every 10 ms) or after `timeoutMs`. */
async function waitUntil(done: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!done() && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
}
