import { mkdirSync, writeFileSync } from 'node:fs';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { UsageError } from '@postern/core';
import type { CryptoProvider } from '@postern/crypto';
import type { RelayMailboxLimits } from '@postern/node';
import type { ReplicantLimits } from '@postern/replicant';
import { NodeRuntime } from '../node-runtime.ts';
import { NodeStoreError } from '../node-store.ts';
import { type ApiAccess, claimApiAccess, releaseApiAccess, tokenMatches } from './api-access.ts';
import { ApiRefusal, type Body, INBOX_PAGE_MAX, type Json, NodeApi } from './node-api.ts';

/**
 * A Postern node as a long-running program (`postern node`, `npm start`): the NodeRuntime listening
 * on TCP and WebSocket, joined to the network through the given peers, and its local API — HTTP on
 * loopback, every request carrying the token from the data directory — through which the postern
 * command manages it. Routes and their JSON: docs/cli.md.
 */
export interface NodeDaemonOptions {
  readonly crypto: CryptoProvider;
  readonly dataDir: string;
  /** The label of a new identity (first run only). */
  readonly label: string;
  /** Where the node listens for other nodes (default 127.0.0.1: this machine only). */
  readonly host?: string;
  /** TCP port (0: any free one). */
  readonly port: number;
  /** WebSocket port (0: any free one; undefined: no WebSocket listener). */
  readonly wsPort?: number;
  /** The addresses to give contacts, when not those listened on (a NAT, a DNS name). */
  readonly announce?: readonly string[];
  /** Addresses of nodes to join the network through. */
  readonly peers?: readonly string[];
  readonly replicant?: Partial<ReplicantLimits>;
  readonly relay?: Partial<RelayMailboxLimits>;
}

export const CONTACT_CARD_FILE = 'contact-card.json';
/** A request body: a contact card is ~1 KiB, a message at most 60 KB (more once JSON-escaped). */
const BODY_BYTES_MAX = 512 * 1024;
/** Unsent inbox lines one follower may hold before its stream is ended. */
const FOLLOW_BUFFER_MAX = 1024 * 1024;

/** The paths the API serves: a known path with the wrong method is a 405, not a 404. */
const ROUTES = new Set([
  '/v1/id',
  '/v1/contacts',
  '/v1/contacts/remove',
  '/v1/contacts/rename',
  '/v1/replicants',
  '/v1/replicants/nominate',
  '/v1/replicants/revoke',
  '/v1/replicants/accept',
  '/v1/replicants/refuse',
  '/v1/relays',
  '/v1/relays/remove',
  '/v1/send',
  '/v1/inbox',
  '/v1/inbox/remove',
  '/v1/status',
]);

export class DaemonError extends Error {
  override name = 'DaemonError';
  readonly code: 'PORT_TAKEN' | 'LISTEN_FAILED' | 'DATA_IN_USE';
  constructor(code: DaemonError['code'], message: string) {
    super(message);
    this.code = code;
  }
}

export class NodeDaemon {
  readonly runtime: NodeRuntime;
  readonly api: NodeApi;
  readonly access: ApiAccess;
  readonly cardPath: string;
  readonly #http: Server;
  readonly #dataDir: string;
  #stopped = false;
  #fatal: ((error: Error) => void) | undefined;

  private constructor(runtime: NodeRuntime, api: NodeApi, http: Server, access: ApiAccess, dataDir: string) {
    this.runtime = runtime;
    this.api = api;
    this.#http = http;
    this.access = access;
    this.#dataDir = dataDir;
    this.cardPath = join(dataDir, CONTACT_CARD_FILE);
  }

  static async start(options: NodeDaemonOptions): Promise<NodeDaemon> {
    mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
    const runtime = openRuntime(options);
    const api = new NodeApi(runtime, options.crypto);
    let http: Server | undefined;
    try {
      await listenNode(runtime, options);
      http = await listenApi();
      const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/`;
      const daemon = new NodeDaemon(
        runtime,
        api,
        http,
        claimApiAccess(options.dataDir, url),
        options.dataDir,
      );
      http.on('request', (req: IncomingMessage, res: ServerResponse) => void daemon.#serve(req, res));
      daemon.writeCard();
      runtime.onFailure((error) => daemon.#fatal?.(error));
      // The card people are handed must carry the current document (replicants, relays).
      runtime.onEvent((event) => {
        if (event.type === 'identity-changed') daemon.writeCard();
        if (event.type === 'directory-found') api.lookupEnded(event.lookup, event.document !== undefined);
      });
      return daemon;
    } catch (error) {
      http?.close();
      await runtime.close();
      releaseApiAccess(options.dataDir);
      throw error;
    }
  }

  /** Writes the contact card (identity document and current addresses) for the user to hand out. */
  writeCard(): void {
    writeFileSync(this.cardPath, this.api.card());
  }

  /** Called if the node cannot go on (its database failed): the program should stop and say why. */
  onFatal(listener: (error: Error) => void): void {
    this.#fatal = listener;
  }

  /** Stops the API, closes every link and the database, and removes the API files. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    try {
      this.#http.closeAllConnections();
      await new Promise<void>((resolve) => this.#http.close(() => resolve()));
      await this.runtime.close();
    } finally {
      releaseApiAccess(this.#dataDir);
    }
  }

  async #serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      // A web page the user visits cannot reach this API by a DNS name that points at 127.0.0.1.
      const host = req.headers.host ?? '';
      if (!/^(127\.0\.0\.1|localhost|\[::1\])(:\d+)?$/.test(host))
        throw new ApiRefusal(403, 'FORBIDDEN', 'the local API answers requests to 127.0.0.1 only');
      const auth = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
      if (!tokenMatches(this.access.token, auth))
        throw new ApiRefusal(
          401,
          'UNAUTHORIZED',
          "wrong or missing token: it is in the data directory's api.token",
        );
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      if (req.method === 'GET' && url.pathname === '/v1/inbox' && url.searchParams.get('follow') === '1')
        return await this.#follow(res);
      const body = req.method === 'POST' ? await readBody(req, res) : {};
      reply(res, 200, this.#route(req.method ?? 'GET', url.pathname, url.searchParams, body));
    } catch (error) {
      if (error instanceof ApiRefusal)
        return reply(res, error.status, { error: { code: error.code, message: error.message } });
      // One of the machine's own rules refused the command (a limit reached): say it as it does.
      if (error instanceof UsageError)
        return reply(res, 409, { error: { code: error.code, message: error.message } });
      reply(res, 500, { error: { code: 'INTERNAL', message: (error as Error).message } });
      if (error instanceof NodeStoreError) this.#fatal?.(error);
    }
  }

  #route(method: string, path: string, query: URLSearchParams, body: Body): Json {
    const api = this.api;
    switch (`${method} ${path}`) {
      case 'GET /v1/id':
        return api.id();
      case 'GET /v1/contacts':
        return api.contacts();
      case 'POST /v1/contacts':
        return api.addContact(body);
      case 'POST /v1/contacts/remove':
        return api.removeContact(body);
      case 'POST /v1/contacts/rename':
        return api.renameContact(body);
      case 'GET /v1/replicants':
        return api.replicants();
      case 'POST /v1/replicants/nominate':
      case 'POST /v1/replicants/revoke':
      case 'POST /v1/replicants/accept':
      case 'POST /v1/replicants/refuse':
        return api.replicantAction(path.slice('/v1/replicants/'.length) as 'nominate', body);
      case 'GET /v1/relays':
        return api.relays();
      case 'POST /v1/relays':
        return api.changeRelays('add', body);
      case 'POST /v1/relays/remove':
        return api.changeRelays('remove', body);
      case 'POST /v1/send':
        return api.send(body);
      case 'GET /v1/inbox':
        return api.inbox(Number(query.get('offset') ?? 0), Number(query.get('limit') ?? INBOX_PAGE_MAX));
      case 'POST /v1/inbox/remove':
        return api.removeMessage(body);
      case 'GET /v1/status':
        return api.status();
    }
    if (method === 'GET' && path.startsWith('/v1/outbox/')) return api.outbox(decodePathPart(path.slice(11)));
    if (method === 'GET' && /^\/v1\/lookups\/\d{1,15}$/.test(path)) return api.lookup(Number(path.slice(12)));
    if (ROUTES.has(path) || path.startsWith('/v1/outbox/'))
      throw new ApiRefusal(405, 'WRONG_METHOD', `${path} does not take ${method}`);
    throw new ApiRefusal(404, 'NO_SUCH_ROUTE', `${method} ${path} is not part of the local API`);
  }

  /**
   * The inbox as NDJSON: every message there now (keys taken once, oldest first; written as the
   * reader takes them), then each new one as it arrives — those that arrive meanwhile wait their
   * turn. A reader 1 MiB behind is cut off.
   */
  async #follow(res: ServerResponse): Promise<void> {
    const arrived: string[] = [];
    let live = false;
    const stopListening = this.runtime.onEvent((event) => {
      if (event.type !== 'message' || res.destroyed) return;
      if (!live) return void (arrived.length < INBOX_PAGE_MAX ? arrived.push(event.key) : undefined);
      if (res.writableLength > FOLLOW_BUFFER_MAX) return cutOff();
      const message = this.api.inboxMessage(event.key);
      if (message !== undefined) res.write(`${JSON.stringify(message)}\n`);
    });
    const cutOff = () => {
      stopListening();
      res.destroy();
    };
    res.on('close', stopListening);
    res.on('error', cutOff);
    const keys = this.api.inboxKeys();
    res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
    res.flushHeaders();
    const written = new Set<string>();
    // The snapshot, then whatever arrived while it was written, until nothing new is waiting.
    for (let queue = keys, rounds = 0; queue.length > 0 && rounds < 1000; rounds++) {
      for (const key of queue) {
        if (res.destroyed) return;
        written.add(key);
        const message = this.api.inboxMessage(key);
        if (message !== undefined && !res.write(`${JSON.stringify(message)}\n`)) await drained(res);
      }
      queue = arrived.splice(0).filter((key) => !written.has(key));
    }
    live = true;
  }
}

/** The runtime, holding the data directory's database locked (one node per data directory). */
function openRuntime(options: NodeDaemonOptions): NodeRuntime {
  try {
    return new NodeRuntime({
      crypto: options.crypto,
      dataDir: options.dataDir,
      label: options.label,
      exclusive: true,
      ...(options.replicant ? { replicant: options.replicant } : {}),
      ...(options.relay ? { relay: options.relay } : {}),
    });
  } catch (error) {
    if (error instanceof NodeStoreError && error.code === 'NODE_STORE_IN_USE')
      throw new DaemonError('DATA_IN_USE', error.message);
    throw error;
  }
}

/** Listens for other nodes on TCP (and WebSocket), then joins the network. */
async function listenNode(runtime: NodeRuntime, options: NodeDaemonOptions): Promise<void> {
  const host = options.host ?? '127.0.0.1';
  try {
    await runtime.start({
      port: options.port,
      host,
      ...(options.wsPort === undefined ? {} : { wsPort: options.wsPort }),
      ...(options.announce === undefined || options.announce.length === 0
        ? {}
        : { announce: options.announce }),
      seeds: options.peers ?? [],
    });
  } catch (error) {
    const failure = error as NodeJS.ErrnoException & { port?: number };
    if (failure.code === 'EADDRINUSE') {
      throw new DaemonError(
        'PORT_TAKEN',
        `port ${failure.port ?? '?'} is taken (another node?) — choose others with --port and --ws-port, or 0 for any free port`,
      );
    }
    throw new DaemonError('LISTEN_FAILED', `cannot listen on ${host}: ${(error as Error).message}`);
  }
}

function listenApi(): Promise<Server> {
  const server = createServer();
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

/** The JSON body. Past BODY_BYTES_MAX the rest is not read, and the answer closes the connection. */
function readBody(req: IncomingMessage, res: ServerResponse): Promise<Body> {
  const tooLarge = () => {
    res.setHeader('connection', 'close');
    return new ApiRefusal(413, 'TOO_LARGE', `a request is at most ${BODY_BYTES_MAX} bytes`);
  };
  if (Number(req.headers['content-length'] ?? 0) > BODY_BYTES_MAX) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= BODY_BYTES_MAX) return void chunks.push(chunk);
      req.pause();
      chunks.length = 0;
      reject(tooLarge());
    });
    req.on('error', reject);
    req.on('end', () => {
      try {
        const json = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as unknown;
        if (typeof json !== 'object' || json === null || Array.isArray(json))
          throw new Error('not an object');
        resolve(json as Body);
      } catch {
        reject(new ApiRefusal(400, 'BAD_REQUEST', 'the request body must be a JSON object'));
      }
    });
  });
}

function decodePathPart(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new ApiRefusal(400, 'BAD_REQUEST', 'the path is not valid percent-encoding');
  }
}

function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

function reply(res: ServerResponse, status: number, json: Json): void {
  if (res.headersSent) return void res.end();
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(`${JSON.stringify(json)}\n`);
}
