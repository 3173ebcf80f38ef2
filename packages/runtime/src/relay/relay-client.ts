import type { Result } from '@postern/core';
import type { CryptoProvider } from '@postern/crypto';
import {
  type AnswerValue,
  type ClientEvent,
  type ClientFailure,
  type RelayLimits,
  type RelayMessage,
  type RelayRequest,
  RelayClientSession,
  type SigningKey,
  type WriteRequest,
  encodeRelayJson,
  encodeRelayMessage,
  parseRelayAddress,
} from '@postern/relay';
import { type RawData, WebSocket } from 'ws';
import { type Clock, systemClock } from '../clock.ts';
import { decodeFrame } from './ws-frames.ts';

/**
 * A client connection to one relay over WebSocket: RelayClientSession's requests as promises.
 * `form` chooses seed 003's JSON (text frames) or the CBOR form (binary frames).
 */
export interface RelayClientOptions {
  readonly crypto: CryptoProvider;
  readonly key: SigningKey;
  readonly form?: 'json' | 'cbor';
  readonly clock?: Clock;
  readonly limits?: Partial<RelayLimits>;
  readonly requestTimeoutMs?: number;
  readonly pendingMax?: number;
}

export class RelayClientError extends Error {
  override name = 'RelayClientError';
  readonly failure: ClientFailure;
  constructor(failure: ClientFailure) {
    super('error' in failure ? `${failure.code}: ${failure.error}` : failure.code);
    this.failure = failure;
  }
}

export class RelayClient {
  readonly #ws: WebSocket;
  readonly #session: RelayClientSession;
  readonly #form: 'json' | 'cbor';
  readonly #clock: Clock;
  readonly #waiting = new Map<string, (result: Result<unknown, ClientFailure>) => void>();
  #onRecords: ((paths: readonly string[]) => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** Why the relay misbehaved, if it did (answers that failed their checks were dropped). */
  readonly misbehaviour: string[] = [];

  private constructor(ws: WebSocket, session: RelayClientSession, options: RelayClientOptions) {
    this.#ws = ws;
    this.#session = session;
    this.#form = options.form ?? 'json';
    this.#clock = options.clock ?? systemClock;
    ws.on('message', (data: RawData, isBinary: boolean) => this.#receive(data, isBinary));
    ws.on('close', () => this.#dispatch(session.handleClosed()));
    ws.on('error', () => {});
  }

  /** Connects to a relay address (`ws://host:port/#key`). */
  static async connect(address: string, options: RelayClientOptions): Promise<RelayClient> {
    const parsed = parseRelayAddress(address);
    if (!parsed.ok) throw new Error(parsed.error);
    const ws = new WebSocket(parsed.value.url, { maxPayload: 4 * 1024 * 1024 });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', (error) =>
        reject(new Error(`cannot reach the relay at ${parsed.value.url}: ${error.message}`)),
      );
    });
    const session = new RelayClientSession({
      crypto: options.crypto,
      key: options.key,
      relayKey: parsed.value.key,
      ...(options.limits === undefined ? {} : { limits: options.limits }),
      ...(options.requestTimeoutMs === undefined ? {} : { requestTimeoutMs: options.requestTimeoutMs }),
      ...(options.pendingMax === undefined ? {} : { pendingMax: options.pendingMax }),
    });
    return new RelayClient(ws, session, options);
  }

  get open(): boolean {
    return this.#ws.readyState === WebSocket.OPEN;
  }

  write(receiver: Uint8Array, write: Omit<WriteRequest, 'type'>): Promise<true> {
    return this.#call({ type: 'write', ...write }, receiver) as Promise<true>;
  }

  read(path: string): Promise<AnswerValue<'read'>> {
    return this.#call({ type: 'read', path }) as Promise<AnswerValue<'read'>>;
  }

  inventory(afterTs: number, beforeTs: number): Promise<AnswerValue<'inventory'>> {
    return this.#call({ type: 'inventory', afterTs, beforeTs }) as Promise<AnswerValue<'inventory'>>;
  }

  delete(recordId: Uint8Array): Promise<true> {
    return this.#call({ type: 'delete', recordId }) as Promise<true>;
  }

  usage(afterTs: number, beforeTs: number): Promise<AnswerValue<'RequestUsage'>> {
    return this.#call({ type: 'RequestUsage', afterTs, beforeTs }) as Promise<AnswerValue<'RequestUsage'>>;
  }

  /** Starts listening: `onRecords` gets the paths of records to this client, past `afterTs`. */
  listen(afterTs: number, onRecords: (paths: readonly string[]) => void): Promise<true> {
    this.#onRecords = onRecords;
    return this.#call({ type: 'listen', afterTs }) as Promise<true>;
  }

  /** Sends a message as given: for tests of what a relay does with messages no client would send. */
  sendRaw(data: string | Uint8Array): void {
    this.#ws.send(data, { binary: typeof data !== 'string' });
  }

  /** Signs a request without sending it (for replay tests). */
  sign(body: RelayRequest, to?: Uint8Array): RelayMessage<RelayRequest> {
    const made = this.#session.request(body, this.#clock.wall(), to);
    if (!made.ok) throw new RelayClientError(made.error);
    return made.value.message;
  }

  /** Sends a signed message and waits for its answer. */
  send(message: RelayMessage<RelayRequest>): Promise<unknown> {
    const id = this.#session.track(message, this.#clock.wall());
    const answer = new Promise<unknown>((resolve, reject) => {
      this.#waiting.set(id, (result) =>
        result.ok ? resolve(result.value) : reject(new RelayClientError(result.error)),
      );
    });
    this.#ws.send(this.#form === 'json' ? encodeRelayJson(message) : encodeRelayMessage(message), {
      binary: this.#form === 'cbor',
    });
    this.#arm();
    return answer;
  }

  async close(): Promise<void> {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    if (this.#ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      this.#ws.once('close', () => resolve());
      this.#ws.close();
    });
  }

  #call(body: RelayRequest, to?: Uint8Array): Promise<unknown> {
    if (!this.open) return Promise.reject(new RelayClientError({ code: 'RELAY_CLIENT_TIMEOUT' }));
    const made = this.#session.request(body, this.#clock.wall(), to);
    if (!made.ok) return Promise.reject(new RelayClientError(made.error));
    return this.send(made.value.message);
  }

  #receive(data: RawData, isBinary: boolean): void {
    const decoded = decodeFrame(data, isBinary, this.#session.limits);
    if (!decoded.ok) {
      this.misbehaviour.push(`an undecodable answer: ${JSON.stringify(decoded.error)}`);
      return;
    }
    const event = this.#session.handleMessage(decoded.value, this.#clock.wall());
    if (event !== undefined) this.#dispatch([event]);
  }

  #dispatch(events: readonly ClientEvent[]): void {
    for (const event of events) {
      if (event.type === 'records') this.#onRecords?.(event.paths);
      else if (event.type === 'relay-misbehaved') this.misbehaviour.push(event.reason);
      else {
        const waiter = this.#waiting.get(event.id);
        this.#waiting.delete(event.id);
        waiter?.(event.result);
      }
    }
  }

  /** One timer for the earliest pending timeout. */
  #arm(): void {
    if (this.#timer !== undefined) return;
    const at = this.#session.nextTimeout();
    if (at === undefined) return;
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        this.#dispatch(this.#session.handleTimeout(this.#clock.wall()));
        this.#arm();
      },
      Math.max(0, at - this.#clock.wall()),
    );
    this.#timer.unref();
  }
}
