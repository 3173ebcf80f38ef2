import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { toHex } from '@postern/core';
import type { CryptoProvider } from '@postern/crypto';
import {
  type Handled,
  RELAY_PROTOCOL,
  type SigningKey,
  type RelayConnection,
  type RelayLimits,
  type RelayMessage,
  RelayServer,
  type RelayStore,
  decodeRelayMessage,
  encodeRelayMessage,
  formatRelayAddress,
  relayLimits,
  signingBytes,
} from '@postern/relay';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';
import { type Clock, systemClock } from '../clock.ts';
import { Host } from '../host.ts';
import { VerifyPool } from '../verify-pool.ts';
import { relayNodeKeys } from './relay-carriers.ts';
import { decodeFrame, encodeJsonFrame } from './ws-frames.ts';
import { RelayMetrics } from './relay-metrics.ts';

/**
 * A relay server on the network: WebSocket (seed 003's JSON in text frames, the CBOR form in binary
 * frames, answered in the form asked) and an HTTP endpoint for /metrics and /healthz, on one port.
 * The rules are RelayServer's; this binds them to sockets, the clock, the store's announcements and
 * an expiry sweep.
 */
export interface RelayServiceOptions {
  readonly crypto: CryptoProvider;
  readonly store: RelayStore;
  readonly port: number;
  readonly host?: string;
  /** Also take CBOR requests on Postern Noise links (link protocol 4) on this TCP port. */
  readonly noisePort?: number;
  readonly limits?: Partial<RelayLimits>;
  readonly clock?: Clock;
  readonly log?: RelayLog;
  /** Answer bytes queued to one client before it is cut off as a slow reader. */
  readonly sendBufferMax?: number;
  readonly connectionsMax?: number;
  /** How often expired records, nonces and old usage are removed. */
  readonly expireEveryMs?: number;
  /** Every this long each client is pinged; one that has not answered the last ping is cut. */
  readonly heartbeatMs?: number;
  /** Worker threads that verify request signatures (0: on the event loop). */
  readonly verifyThreads?: number;
  /** Request bytes of one connection being worked on before its socket is paused. */
  readonly requestBytesInFlightMax?: number;
  /** Request bytes of all connections being worked on before the sockets that send more are paused. */
  readonly totalRequestBytesInFlightMax?: number;
}

/** Structured log lines: `{ level, event, ...fields }`, one JSON object each in apps/relay. */
export type RelayLog = (
  level: 'info' | 'warn' | 'error',
  event: string,
  fields?: Record<string, unknown>,
) => void;

export const DEFAULT_SEND_BUFFER_MAX = 8 * 1024 * 1024;
export const DEFAULT_CONNECTIONS_MAX = 20_000;
/** Two of the largest requests; a typical client has far less in flight. */
export const DEFAULT_REQUEST_BYTES_IN_FLIGHT_MAX = 4 * 1024 * 1024;
/** What the relay holds of requests at once, whatever the number of connections. */
export const DEFAULT_TOTAL_REQUEST_BYTES_IN_FLIGHT_MAX = 256 * 1024 * 1024;

function frameSize(data: RawData): number {
  if (Array.isArray(data)) return data.reduce((sum, chunk) => sum + chunk.length, 0);
  return data instanceof ArrayBuffer ? data.byteLength : data.length;
}

export class RelayService {
  readonly server: RelayServer;
  readonly metrics = new RelayMetrics();
  readonly #http: Server;
  readonly #wss: WebSocketServer;
  readonly #options: RelayServiceOptions;
  readonly #clock: Clock;
  readonly #log: RelayLog;
  readonly #limits: RelayLimits;
  readonly #sockets = new Set<WebSocket>();
  readonly #unsubscribe: () => void;
  readonly #sweep: NodeJS.Timeout;
  readonly #heartbeat: NodeJS.Timeout;
  /** Sockets pinged and not yet answered. */
  readonly #unanswered = new WeakSet<WebSocket>();
  #url = '';
  #pool: VerifyPool | undefined;
  /** Request bytes being worked on across all connections, and the sockets paused for that. */
  #inFlightBytes = 0;
  readonly #inFlightBytesMax: number;
  readonly #pausedForAll = new Set<WebSocket>();
  #noise: { host: Host; address: string; connections: Map<string, RelayConnection> } | undefined;

  private constructor(options: RelayServiceOptions, server: RelayServer) {
    this.#options = options;
    this.server = server;
    this.#clock = options.clock ?? systemClock;
    this.#log = options.log ?? (() => {});
    this.#limits = relayLimits(options.limits);
    this.#inFlightBytesMax =
      options.totalRequestBytesInFlightMax ?? DEFAULT_TOTAL_REQUEST_BYTES_IN_FLIGHT_MAX;
    this.#http = createServer((req, res) => void this.#serveHttp(req, res));
    // noServer: the HTTP server's own errors (a port in use) reach #listen, not an unhandled event.
    this.#wss = new WebSocketServer({ noServer: true, maxPayload: this.#limits.messageBytesMax });
    this.#http.on('upgrade', (req, socket, head) =>
      this.#wss.handleUpgrade(req, socket, head, (ws) => this.#accept(ws)),
    );
    this.#unsubscribe = options.store.subscribe((paths) => server.handleStored(paths, this.#clock.wall()));
    this.#sweep = setInterval(() => void this.#expire(), options.expireEveryMs ?? 60_000);
    this.#sweep.unref();
    // Half-open connections (a phone that lost its network) would otherwise hold their sockets and
    // listen slots until the OS notices, which can take hours.
    this.#heartbeat = setInterval(() => this.#beat(), options.heartbeatMs ?? 30_000);
    this.#heartbeat.unref();
  }

  #beat(): void {
    for (const ws of this.#sockets) {
      if (this.#unanswered.has(ws)) {
        this.metrics.disconnected('no-pong');
        ws.terminate();
        continue;
      }
      this.#unanswered.add(ws);
      ws.ping();
    }
  }

  /** Loads (or creates) the relay's key from the store and starts listening. */
  static async start(options: RelayServiceOptions): Promise<RelayService> {
    const { crypto } = options;
    const key = await options.store.relayKey(() => crypto.ed25519KeyPairFromSeed(crypto.randomBytes(32)));
    const limits = options.limits === undefined ? {} : { limits: options.limits };
    const pool = (options.verifyThreads ?? 0) > 0 ? new VerifyPool(options.verifyThreads ?? 1) : undefined;
    // With worker threads, the event loop neither checks requests' signatures nor signs answers.
    const offload =
      pool === undefined
        ? {}
        : {
            verify: (m: RelayMessage) => pool.verify(m.from, signingBytes(m), m.sig),
            sign: (bytes: Uint8Array) => pool.sign(key.secretKey, bytes),
          };
    const server = new RelayServer({ crypto, key, store: options.store, ...limits, ...offload });
    const service = new RelayService(options, server);
    service.#pool = pool;
    const host = options.host ?? '127.0.0.1';
    await service.#listen(options.port, host);
    if (options.noisePort !== undefined) await service.#listenNoise(key, options.noisePort, host);
    return service;
  }

  /** The address clients use: the WebSocket URL with the relay's key as its fragment. */
  get address(): string {
    return formatRelayAddress({ url: this.#url, key: this.server.publicKey });
  }

  /** The Noise address (`tcp://host:port#key`), if the relay takes Noise links. */
  get noiseAddress(): string | undefined {
    return this.#noise === undefined
      ? undefined
      : formatRelayAddress({ url: this.#noise.address, key: this.server.publicKey });
  }

  get port(): number {
    return (this.#http.address() as AddressInfo).port;
  }

  get connectionCount(): number {
    return this.#sockets.size;
  }

  /** Stops accepting, closes every connection, and stops the sweep. The store is the caller's. */
  async close(): Promise<void> {
    clearInterval(this.#sweep);
    clearInterval(this.#heartbeat);
    this.#unsubscribe();
    for (const ws of this.#sockets) ws.terminate();
    await this.#noise?.host.close();
    await this.#pool?.close();
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
    await new Promise<void>((resolve) => this.#http.close(() => resolve()));
  }

  async #listen(port: number, host: string): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#http.once('error', reject);
      this.#http.listen(port, host, () => {
        this.#http.off('error', reject);
        resolve();
      });
    });
    const bound = this.#http.address() as AddressInfo;
    const shown = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
    this.#url = `ws://${shown}:${bound.port}/`;
  }

  async #listenNoise(key: SigningKey, port: number, host: string): Promise<void> {
    const connections = new Map<string, RelayConnection>();
    const links = new Host({
      crypto: this.#options.crypto,
      keys: relayNodeKeys(this.#options.crypto, key),
      capabilities: ['relay'],
      limits: { connectionsMax: this.#options.connectionsMax ?? DEFAULT_CONNECTIONS_MAX },
      onLinkUp: (nodeId) => {
        const peer = toHex(nodeId);
        this.metrics.connections.inc();
        connections.set(
          peer,
          this.server.connect((message) => {
            const sent = links.send(nodeId, RELAY_PROTOCOL, encodeRelayMessage(message));
            if (!sent.ok && sent.error.code === 'LINK_QUEUE_FULL') {
              this.metrics.disconnected('slow-reader');
              this.#log('warn', 'slow-reader', { transport: 'noise' });
              links.disconnect(nodeId, 'ProtocolViolation', 'answers not read');
            }
          }),
        );
      },
      onLinkDown: (nodeId) => {
        const peer = nodeId === undefined ? undefined : toHex(nodeId);
        const connection = peer === undefined ? undefined : connections.get(peer);
        if (peer === undefined || connection === undefined) return;
        connection.close();
        connections.delete(peer);
        this.metrics.connections.dec();
      },
      onMessage: (from, protocol, bytes) => {
        const connection = connections.get(toHex(from));
        if (protocol !== RELAY_PROTOCOL || connection === undefined) return;
        const started = performance.now();
        void connection
          .handle(decodeRelayMessage(bytes, this.#limits), this.#clock.wall())
          .then((handled) => {
            this.metrics.observe(handled, (performance.now() - started) / 1000);
            if (connection.shouldClose)
              links.disconnect(from, 'ProtocolViolation', 'too many malformed messages');
          });
      },
    });
    const address = await links.listenTcp(port, host);
    this.#noise = { host: links, address, connections };
  }

  #accept(ws: WebSocket): void {
    if (this.#sockets.size >= (this.#options.connectionsMax ?? DEFAULT_CONNECTIONS_MAX)) {
      this.metrics.disconnected('connections-max');
      ws.close(1013, 'the relay has too many connections: try again later');
      return;
    }
    this.#sockets.add(ws);
    this.metrics.connections.inc();
    let binary = false;
    const connection = this.server.connect(
      (message) => this.#send(ws, message, binary),
      () => this.#whenWritable(ws),
    );
    // Bytes of this client's requests still being worked on: past the budget, stop reading its
    // socket (TCP then slows the client) rather than hold its frames in memory.
    let inFlightBytes = 0;
    const budget = this.#options.requestBytesInFlightMax ?? DEFAULT_REQUEST_BYTES_IN_FLIGHT_MAX;
    ws.on('message', (data: RawData, isBinary: boolean) => {
      binary = isBinary;
      const size = frameSize(data);
      inFlightBytes += size;
      this.#inFlightBytes += size;
      if (inFlightBytes > budget) ws.pause();
      if (this.#inFlightBytes > this.#inFlightBytesMax) {
        ws.pause();
        this.#pausedForAll.add(ws);
      }
      void this.#receive(ws, connection, data, isBinary).then(() => {
        inFlightBytes -= size;
        this.#inFlightBytes -= size;
        if (ws.isPaused && inFlightBytes <= budget / 2 && !this.#pausedForAll.has(ws)) ws.resume();
        if (this.#inFlightBytes <= this.#inFlightBytesMax / 2) this.#resumeAll();
      });
    });
    ws.on('pong', () => this.#unanswered.delete(ws));
    ws.on('close', () => {
      connection.close();
      this.#pausedForAll.delete(ws);
      this.#sockets.delete(ws);
      this.metrics.connections.dec();
    });
    ws.on('error', (error) => {
      // ws reports protocol violations (oversize, bad UTF-8, bad frames) here and closes the socket.
      this.metrics.disconnected('protocol-error');
      this.#log('warn', 'connection-error', { reason: error.message });
    });
  }

  #resumeAll(): void {
    for (const ws of this.#pausedForAll) ws.resume();
    this.#pausedForAll.clear();
  }

  #receive(ws: WebSocket, connection: RelayConnection, data: RawData, isBinary: boolean): Promise<void> {
    const started = performance.now();
    const decoded = decodeFrame(data, isBinary, this.#limits);
    return connection.handle(decoded, this.#clock.wall()).then((handled: Handled) => {
      this.metrics.observe(handled, (performance.now() - started) / 1000);
      if (handled.outcome === 'RELAY_UNAVAILABLE')
        this.#log('error', 'store-unavailable', { type: handled.type });
      if (connection.shouldClose) {
        this.metrics.disconnected('malformed');
        ws.close(1008, 'too many malformed messages');
      }
    });
  }

  /**
   * Resolves once the client has read most of what was sent to it: a listen's backfill waits here
   * between pages, so a long backfill paces itself instead of tripping the slow-reader cut-off.
   */
  async #whenWritable(ws: WebSocket): Promise<void> {
    const low = (this.#options.sendBufferMax ?? DEFAULT_SEND_BUFFER_MAX) / 4;
    for (let i = 0; i < 6000 && ws.readyState === ws.OPEN && ws.bufferedAmount > low; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  #send(ws: WebSocket, message: RelayMessage, binary: boolean): void {
    if (ws.readyState !== ws.OPEN) return;
    if (ws.bufferedAmount > (this.#options.sendBufferMax ?? DEFAULT_SEND_BUFFER_MAX)) {
      // A client that does not read its answers would hold them in our memory without bound.
      this.metrics.disconnected('slow-reader');
      this.#log('warn', 'slow-reader', { bufferedBytes: ws.bufferedAmount });
      ws.terminate();
      return;
    }
    ws.send(binary ? encodeRelayMessage(message) : encodeJsonFrame(message), { binary });
  }

  async #serveHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method === 'GET' && req.url === '/metrics') {
      res.writeHead(200, { 'content-type': this.metrics.registry.contentType });
      res.end(await this.metrics.registry.metrics());
    } else if (req.method === 'GET' && req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok\n');
    } else {
      res.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' });
      res.end('This is a Postern relay: connect with a WebSocket; metrics are at /metrics.\n');
    }
  }

  async #expire(): Promise<void> {
    const now = this.#clock.wall();
    try {
      const counts = await this.#options.store.expire(now, now - this.#limits.usageRetentionMs);
      if (counts.records + counts.nonces + counts.usage > 0) this.#log('info', 'expired', { ...counts });
    } catch (cause) {
      this.#log('error', 'expire-failed', { reason: (cause as Error).message });
    }
  }
}
