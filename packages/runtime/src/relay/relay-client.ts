import type { Result } from '@postern/core';
import type { CryptoProvider } from '@postern/crypto';
import {
  type AnswerValue,
  type ClientEvent,
  type ClientFailure,
  type RelayLimits,
  type RelayDecodeError,
  type RelayMessage,
  type RelayRequest,
  RelayClientSession,
  type SigningKey,
  type WriteRequest,
  parseRelayAddress,
} from '@postern/relay';
import { type Clock, systemClock } from '../clock.ts';
import { type Carrier, noiseCarrier, webSocketCarrier } from './relay-carriers.ts';

/**
 * A client connection to one relay: RelayClientSession's requests as promises, over a WebSocket
 * (`form`: seed 003's JSON in text frames, or CBOR in binary frames) or a Noise link.
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
  readonly #carrier: Carrier;
  readonly #session: RelayClientSession;
  readonly #clock: Clock;
  readonly #waiting = new Map<string, (result: Result<unknown, ClientFailure>) => void>();
  #onRecords: ((paths: readonly string[]) => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** Called when the relay ends this client's listen (listen again to resume). */
  onListenEnded: (code: string) => void = () => {};
  /** Why the relay misbehaved, if it did (answers that failed their checks were dropped). */
  readonly misbehaviour: string[] = [];

  private constructor(carrier: Carrier, session: RelayClientSession, options: RelayClientOptions) {
    this.#carrier = carrier;
    this.#session = session;
    this.#clock = options.clock ?? systemClock;
    carrier.onMessage = (decoded) => this.#receive(decoded);
    carrier.onClose = () => this.#dispatch(session.handleClosed());
  }

  /**
   * Connects to a relay address: `ws://host:port/#key` (WebSocket, in `form`) or
   * `tcp://host:port#key` (a Noise link, CBOR).
   */
  static async connect(address: string, options: RelayClientOptions): Promise<RelayClient> {
    const parsed = parseRelayAddress(address);
    if (!parsed.ok) throw new Error(parsed.error);
    const session = new RelayClientSession({
      crypto: options.crypto,
      key: options.key,
      relayKey: parsed.value.key,
      ...(options.limits === undefined ? {} : { limits: options.limits }),
      ...(options.requestTimeoutMs === undefined ? {} : { requestTimeoutMs: options.requestTimeoutMs }),
      ...(options.pendingMax === undefined ? {} : { pendingMax: options.pendingMax }),
    });
    const carrier =
      parsed.value.transport === 'noise'
        ? await noiseCarrier(parsed.value.url, parsed.value.key, options.crypto, session.limits)
        : await webSocketCarrier(parsed.value.url, options.form ?? 'json', session.limits);
    return new RelayClient(carrier, session, options);
  }

  get open(): boolean {
    return this.#carrier.open;
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
    this.#carrier.sendRaw(data);
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
    this.#carrier.send(message);
    this.#arm();
    return answer;
  }

  async close(): Promise<void> {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    await this.#carrier.close();
  }

  #call(body: RelayRequest, to?: Uint8Array): Promise<unknown> {
    if (!this.open) return Promise.reject(new RelayClientError({ code: 'RELAY_CLIENT_TIMEOUT' }));
    const made = this.#session.request(body, this.#clock.wall(), to);
    if (!made.ok) return Promise.reject(new RelayClientError(made.error));
    return this.send(made.value.message);
  }

  #receive(decoded: Result<RelayMessage, RelayDecodeError>): void {
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
      else if (event.type === 'listen-ended') this.onListenEnded(event.code);
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
