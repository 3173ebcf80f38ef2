import { BoundedLru, type Result, bytesEqual, toHex } from '@postern/core';
import type { CryptoProvider } from '@postern/crypto';
import type { WireError, WireMap, WireValue } from '@postern/wire';
import { type RelayError, type RelayErrorCode, describeRelayError } from './errors.ts';
import { type RelayLimits, relayLimits } from './limits.ts';
import {
  NONCE_BYTES,
  type RelayDecodeError,
  type RelayAnswer,
  type RelayMessage,
  type RelayRequest,
  type SigningKey,
  type WriteRequest,
  decodeRelayMessage,
  encodeRelayMessage,
  isRequest,
  messageValue,
  signRelayMessage,
  signingBytes,
  verifyRelayMessage,
} from './messages.ts';
import { type RecordPath, formatPath, parsePath } from './paths.ts';
import { type Page, type RelayStore, RelayStoreBusy, type UsageEntry } from './store.ts';

/**
 * The relay server of seed 003: checks each request (signature, clock window, replay, account,
 * quota, ownership) and answers it, signed by the relay's key. It does no I/O of its own: the
 * runtime hands it decoded messages and the time, gives it a store, and carries its answers on a
 * WebSocket (JSON) or a Noise link (CBOR). Spec: docs/protocols/relay.md.
 */
export interface RelayServerOptions {
  readonly crypto: CryptoProvider;
  readonly key: SigningKey;
  readonly store: RelayStore;
  readonly limits?: Partial<RelayLimits>;
  /**
   * Checks a request's signature off the caller's thread (the runtime's verification workers);
   * by default `crypto` verifies it in line.
   */
  readonly verify?: (message: RelayMessage) => Promise<boolean>;
  /**
   * Signs an answer's bytes off the caller's thread (the runtime's workers, with the relay's key);
   * by default `crypto` signs in line. Answers on one connection may then leave in another order.
   */
  readonly sign?: (bytes: Uint8Array) => Promise<Uint8Array>;
}

/** What became of one message: for logs and metrics. */
export interface Handled {
  readonly type: string;
  readonly outcome: 'ok' | RelayErrorCode;
  /** Content bytes written or read. */
  readonly bytes: number;
}

/** Malformed messages one connection may send before it is closed: a client bug, or garbage. */
const MALFORMED_MAX = 8;
const NO_NONCE = new Uint8Array(NONCE_BYTES);
const NO_KEY = new Uint8Array(32);

export class RelayServer {
  readonly limits: RelayLimits;
  readonly publicKey: Uint8Array;
  readonly #crypto: CryptoProvider;
  readonly #key: SigningKey;
  readonly #store: RelayStore;
  readonly #sign: ((bytes: Uint8Array) => Promise<Uint8Array>) | undefined;
  readonly #verify: ((message: RelayMessage) => Promise<boolean>) | undefined;
  /**
   * Arrival times of the writes and reads this process is still storing, with their counts: a
   * listing must not go past the oldest, whose record or usage entry will carry that time.
   */
  readonly #storing = new Map<number, number>();
  /** Listening connections by receiver (hex). */
  readonly #listeners = new Map<string, Set<RelayConnection>>();

  constructor(options: RelayServerOptions) {
    this.limits = relayLimits(options.limits);
    this.#crypto = options.crypto;
    this.#key = options.key;
    this.#store = options.store;
    this.#verify = options.verify;
    this.#sign = options.sign;
    this.publicKey = options.key.publicKey;
  }

  /** A new client connection; `send` carries answers to it in the connection's own form. */
  connect(send: (message: RelayMessage) => void, whenWritable?: () => Promise<void>): RelayConnection {
    return new RelayConnection(this, send, whenWritable ?? (() => Promise.resolve()));
  }

  /** Records were stored (here or by another process on a shared database): push them to listeners. */
  handleStored(paths: readonly RecordPath[], now: number): void {
    const byReceiver = new Map<string, RecordPath[]>();
    for (const path of paths) {
      const key = toHex(path.receiver);
      if (!this.#listeners.has(key)) continue;
      const list = byReceiver.get(key) ?? [];
      list.push(path);
      byReceiver.set(key, list);
    }
    for (const [key, list] of byReceiver) {
      for (const connection of this.#listeners.get(key) ?? []) connection.push(list, now);
    }
  }

  get listenerCount(): number {
    let count = 0;
    for (const set of this.#listeners.values()) count += set.size;
    return count;
  }

  /** @internal */
  sign(to: Uint8Array, now: number, body: RelayAnswer): RelayMessage {
    return signRelayMessage(this.#crypto, this.#key, to, now, body);
  }

  /** @internal An answer signed by the `sign` option if given (in line if it fails), else in line. */
  signAnswer(to: Uint8Array, now: number, body: RelayAnswer): RelayMessage | Promise<RelayMessage> {
    const signer = this.#sign;
    if (signer === undefined) return this.sign(to, now, body);
    const unsigned = {
      from: this.publicKey,
      to,
      timestamp: now,
      nonce: this.#crypto.randomBytes(NONCE_BYTES),
      request: body,
    };
    return signer(signingBytes(unsigned)).then(
      (sig): RelayMessage => ({ ...unsigned, type: body.type, sig }),
      () => this.sign(to, now, body),
    );
  }

  /**
   * @internal At the cap, the receiver's oldest listen ends (told so): a device that reconnected
   * without closing (a phone losing its network) must not lock its owner out.
   */
  addListener(receiver: Uint8Array, connection: RelayConnection, now: number): void {
    const key = toHex(receiver);
    const set = this.#listeners.get(key) ?? new Set();
    if (!set.has(connection) && set.size >= this.limits.listenersPerReceiverMax) {
      const oldest = set.values().next().value as RelayConnection;
      set.delete(oldest);
      oldest.endListen({ code: 'RELAY_TOO_MANY_LISTENERS', max: this.limits.listenersPerReceiverMax }, now);
    }
    set.add(connection);
    this.#listeners.set(key, set);
  }

  /** @internal */
  removeListener(receiver: Uint8Array, connection: RelayConnection): void {
    const key = toHex(receiver);
    const set = this.#listeners.get(key);
    set?.delete(connection);
    if (set?.size === 0) this.#listeners.delete(key);
  }

  /** @internal The checks every request passes before its own: window, signature, relay, replay. */
  async admit(message: RelayMessage<RelayRequest>, now: number): Promise<RelayError | undefined> {
    const skewMs = Math.abs(message.timestamp - now);
    if (skewMs > this.limits.clockSkewMs) {
      return { code: 'RELAY_STALE', skewMs, maxMs: this.limits.clockSkewMs };
    }
    const valid =
      this.#verify === undefined ? verifyRelayMessage(this.#crypto, message) : await this.#verify(message);
    if (!valid) return { code: 'RELAY_BAD_SIGNATURE' };
    // A write is addressed to its receiver and made idempotent by its recordId; every other
    // request is addressed to this relay and used once.
    if (message.request.type === 'write') return undefined;
    if (!bytesEqual(message.to, this.publicKey)) return { code: 'RELAY_WRONG_RELAY' };
    // Kept past the window's far edge (timestamp + skew) by another skew: a replay is refused as seen
    // until it is surely refused as stale, whatever the clocks of relay processes sharing a store.
    const fresh = await this.#store.claimNonce(
      message.from,
      message.nonce,
      message.timestamp + 2 * this.limits.clockSkewMs,
    );
    return fresh ? undefined : { code: 'RELAY_REPLAYED' };
  }

  /** @internal */
  async write(message: RelayMessage<WriteRequest>, now: number): Promise<RelayError | undefined> {
    const { request } = message;
    if (request.ttl > this.limits.ttlMsMax) {
      return { code: 'RELAY_TTL_TOO_LONG', ttlMs: request.ttl, maxMs: this.limits.ttlMsMax };
    }
    const expiresAt = message.timestamp + request.ttl;
    if (expiresAt <= now) return { code: 'RELAY_EXPIRED' };
    const outcome = await this.#storingAt(now, () =>
      this.#store.write(
        {
          path: { receiver: message.to, sender: message.from, recordId: request.recordId },
          message: encodeRelayMessage(message),
          contentBytes: request.content.length,
          digest: this.#crypto.blake2b(request.content, 32),
          expiresAt,
        },
        now,
      ),
    );
    switch (outcome.type) {
      case 'stored':
      case 'duplicate':
        return undefined;
      case 'taken':
        return { code: 'RELAY_RECORD_ID_TAKEN' };
      case 'no-account':
        return { code: 'RELAY_NO_ACCOUNT' };
      case 'full':
        return { code: 'RELAY_QUOTA_FULL', ...outcome };
    }
  }

  /** @internal */
  async read(
    from: Uint8Array,
    pathText: string,
    now: number,
  ): Promise<RelayError | { value: WireValue; bytes: number }> {
    const path = parsePath(pathText);
    if (!path.ok) return { code: 'RELAY_BAD_PATH', reason: path.error };
    if (!bytesEqual(path.value.receiver, from)) return { code: 'RELAY_NOT_YOURS' };
    const outcome = await this.#storingAt(now, () =>
      this.#store.read(path.value, this.limits.pullsPerRecordMax, now),
    );
    if (outcome.type === 'missing') return { value: null, bytes: 0 };
    if (outcome.type === 'pull-limit')
      return { code: 'RELAY_PULL_LIMIT', pullsMax: this.limits.pullsPerRecordMax };
    const record = decodeRelayMessage(outcome.message, this.limits);
    // The store gives back what it was given; anything else is storage corruption.
    if (!record.ok) return { code: 'RELAY_UNAVAILABLE' };
    const bytes = record.value.request.type === 'write' ? record.value.request.content.length : 0;
    return { value: messageValue(record.value), bytes };
  }

  /** How far a listing may go: short of the settle time and of anything this process is still storing. */
  #settled(beforeTs: number, now: number): number {
    let settled = Math.min(beforeTs, now - this.limits.listingSettleMs);
    for (const at of this.#storing.keys()) settled = Math.min(settled, at - 1);
    return settled;
  }

  async #storingAt<T>(now: number, run: () => Promise<T>): Promise<T> {
    this.#storing.set(now, (this.#storing.get(now) ?? 0) + 1);
    try {
      return await run();
    } finally {
      const left = (this.#storing.get(now) ?? 1) - 1;
      if (left === 0) this.#storing.delete(now);
      else this.#storing.set(now, left);
    }
  }

  /** @internal */
  async delete(from: Uint8Array, recordId: Uint8Array, now: number): Promise<RelayError | undefined> {
    // A tombstone need outlive only the replays of the write it stands for: any replay signed more
    // than one clock window before now is refused as stale.
    const outcome = await this.#store.delete(from, recordId, now, 2 * this.limits.clockSkewMs);
    return outcome.deleted === 0 && outcome.foreign > 0 ? { code: 'RELAY_NOT_YOURS' } : undefined;
  }

  /**
   * @internal A listing of what is settled: records stored in the last `listingSettleMs` may still
   * be committing (another process, a slow database), so a page stops short of them and says it is
   * not complete; a listen pushes them as they land.
   */
  async inventory(
    receiver: Uint8Array,
    afterTs: number,
    beforeTs: number,
    now: number,
  ): Promise<Page<RecordPath>> {
    const settled = this.#settled(beforeTs, now);
    if (settled <= afterTs) return { items: [], complete: false, throughTs: afterTs };
    const page = await this.#store.inventory(receiver, afterTs, settled, this.limits.pathsPerAnswerMax, now);
    return settled < beforeTs ? { ...page, complete: false } : page;
  }

  /** @internal Every live record to `receiver` stored after `afterTs`, page by page (a listen's backfill). */
  backfill(receiver: Uint8Array, afterTs: number, now: number): Promise<Page<RecordPath>> {
    return this.#store.inventory(
      receiver,
      afterTs,
      Number.MAX_SAFE_INTEGER,
      this.limits.pathsPerAnswerMax,
      now,
    );
  }

  /** @internal As `inventory`, for usage entries. */
  async usage(sender: Uint8Array, afterTs: number, beforeTs: number, now: number): Promise<Page<UsageEntry>> {
    const settled = this.#settled(beforeTs, now);
    if (settled <= afterTs) return { items: [], complete: false, throughTs: afterTs };
    const page = await this.#store.usage(sender, afterTs, settled, this.limits.usagePerAnswerMax);
    return settled < beforeTs ? { ...page, complete: false } : page;
  }
}

/** One client connection: its requests in flight, its listen, the paths already pushed to it. */
export class RelayConnection {
  readonly #server: RelayServer;
  readonly #send: (message: RelayMessage) => void;
  readonly #whenWritable: () => Promise<void>;
  #inFlight = 0;
  #malformed = 0;
  #closed = false;
  #listen: { receiver: Uint8Array; re: Uint8Array } | undefined;
  readonly #pushed: BoundedLru<string, true>;

  constructor(server: RelayServer, send: (message: RelayMessage) => void, whenWritable: () => Promise<void>) {
    this.#server = server;
    this.#send = send;
    this.#whenWritable = whenWritable;
    this.#pushed = new BoundedLru(server.limits.pushedPathsPerConnectionMax);
  }

  /** True once the connection should be closed: too many malformed messages. */
  get shouldClose(): boolean {
    return this.#malformed >= MALFORMED_MAX;
  }

  /** Handles one decoded message (a decode error included) and sends its answer. Never throws. */
  async handle(decoded: Result<RelayMessage, RelayDecodeError>, now: number): Promise<Handled> {
    if (!decoded.ok) {
      this.#malformed++;
      const { error, from, nonce } = decoded.error;
      const reason = describeWireError(error);
      this.#answerError(from ?? NO_KEY, nonce ?? NO_NONCE, { code: 'RELAY_MALFORMED', reason }, now);
      return { type: 'malformed', outcome: 'RELAY_MALFORMED', bytes: 0 };
    }
    const message = decoded.value;
    if (!isRequest(message)) {
      const error: RelayError = { code: 'RELAY_NOT_A_REQUEST', type: message.request.type };
      this.#answerError(message.from, message.nonce, error, now);
      return { type: message.type, outcome: error.code, bytes: 0 };
    }
    if (this.#inFlight >= this.#server.limits.requestsInFlightPerConnectionMax) {
      this.#answerError(message.from, message.nonce, { code: 'RELAY_BUSY' }, now);
      return { type: message.type, outcome: 'RELAY_BUSY', bytes: 0 };
    }
    this.#inFlight++;
    try {
      return await this.#handleRequest(message, now);
    } catch (cause) {
      // The store is overloaded or failed (a lost database connection): the request did not
      // happen; say which.
      const error: RelayError =
        cause instanceof RelayStoreBusy ? { code: 'RELAY_BUSY' } : { code: 'RELAY_UNAVAILABLE' };
      this.#answerError(message.from, message.nonce, error, now);
      return { type: message.type, outcome: error.code, bytes: 0 };
    } finally {
      this.#inFlight--;
    }
  }

  /** Pushes paths not yet sent on this connection to its listen. */
  push(paths: readonly RecordPath[], now: number): void {
    const listen = this.#listen;
    if (listen === undefined || this.#closed) return;
    const fresh: string[] = [];
    for (const path of paths) {
      if (!bytesEqual(path.receiver, listen.receiver)) continue;
      const text = formatPath(path);
      if (this.#pushed.has(text)) continue;
      this.#pushed.set(text, true);
      fresh.push(text);
    }
    const max = this.#server.limits.pathsPerAnswerMax;
    for (let i = 0; i < fresh.length; i += max) {
      this.#answer(listen.receiver, { type: 'records', re: listen.re, paths: fresh.slice(i, i + max) }, now);
    }
  }

  /** @internal This connection's listen was ended by the relay: say why, on the listen's nonce. */
  endListen(error: RelayError, now: number): void {
    const listen = this.#listen;
    if (listen === undefined) return;
    this.#listen = undefined;
    this.#answerError(listen.receiver, listen.re, error, now);
  }

  close(): void {
    this.#closed = true;
    if (this.#listen !== undefined) this.#server.removeListener(this.#listen.receiver, this);
    this.#listen = undefined;
  }

  async #handleRequest(message: RelayMessage<RelayRequest>, now: number): Promise<Handled> {
    const { request } = message;
    const refused = await this.#server.admit(message, now);
    if (refused !== undefined) return this.#fail(message, refused, now);
    switch (request.type) {
      case 'write': {
        const error = await this.#server.write(message as RelayMessage<WriteRequest>, now);
        if (error !== undefined) return this.#fail(message, error, now);
        return this.#succeed(message, true, request.content.length, now);
      }
      case 'read': {
        const read = await this.#server.read(message.from, request.path, now);
        if ('code' in read) return this.#fail(message, read, now);
        return this.#succeed(message, read.value, read.bytes, now);
      }
      case 'delete': {
        const error = await this.#server.delete(message.from, request.recordId, now);
        if (error !== undefined) return this.#fail(message, error, now);
        return this.#succeed(message, true, 0, now);
      }
      case 'inventory': {
        if (request.afterTs >= request.beforeTs)
          return this.#fail(message, { code: 'RELAY_BAD_WINDOW' }, now);
        const page = await this.#server.inventory(message.from, request.afterTs, request.beforeTs, now);
        return this.#succeed(message, inventoryValue(page), 0, now);
      }
      case 'RequestUsage': {
        if (request.afterTs >= request.beforeTs)
          return this.#fail(message, { code: 'RELAY_BAD_WINDOW' }, now);
        const page = await this.#server.usage(message.from, request.afterTs, request.beforeTs, now);
        return this.#succeed(message, usageValue(page), 0, now);
      }
      case 'listen':
        return this.#startListen(message, request.afterTs, now);
    }
  }

  /**
   * Registers first, then lists what is already there, so a record stored in between is pushed by
   * one or the other (the pushed set drops the second copy).
   */
  async #startListen(message: RelayMessage<RelayRequest>, afterTs: number, now: number): Promise<Handled> {
    // Closed while the request was being checked: registering now would leak the listener.
    if (this.#closed) return { type: message.type, outcome: 'ok', bytes: 0 };
    if (this.#listen !== undefined) this.#server.removeListener(this.#listen.receiver, this);
    this.#listen = { receiver: message.from, re: message.nonce };
    this.#server.addListener(message.from, this, now);
    const handled = this.#succeed(message, true, 0, now);
    let from = afterTs;
    // No upper bound: whatever is committed by now is listed here or pushed (or both, once). Each
    // page moves `from` forward; the bound only stops a store that failed to. Between pages the
    // transport may hold us until the client has read the last one.
    for (let pages = 0; pages < 1_000_000; pages++) {
      const page = await this.#server.backfill(message.from, from, now);
      if (this.#listen?.re !== message.nonce) break;
      this.push(page.items, now);
      if (page.complete || page.throughTs <= from) break;
      from = page.throughTs;
      await this.#whenWritable();
    }
    return handled;
  }

  #succeed(message: RelayMessage, value: WireValue, bytes: number, now: number): Handled {
    this.#answer(message.from, { type: 'result', re: message.nonce, value }, now);
    return { type: message.type, outcome: 'ok', bytes };
  }

  #fail(message: RelayMessage, error: RelayError, now: number): Handled {
    this.#answerError(message.from, message.nonce, error, now);
    return { type: message.type, outcome: error.code, bytes: 0 };
  }

  #answerError(to: Uint8Array, re: Uint8Array, error: RelayError, now: number): void {
    this.#answer(to, { type: 'error', re, code: error.code, error: describeRelayError(error) }, now);
  }

  #answer(to: Uint8Array, body: RelayAnswer, now: number): void {
    if (this.#closed) return;
    const signed = this.#server.signAnswer(to, now, body);
    if (!(signed instanceof Promise)) return this.#send(signed);
    void signed.then((message) => {
      if (!this.#closed) this.#send(message);
    });
  }
}

function inventoryValue(page: Page<RecordPath>): WireMap {
  return {
    type: 'Inventory',
    paths: page.items.map((path) => formatPath(path)),
    complete: page.complete,
    throughTs: page.throughTs,
  };
}

function usageValue(page: Page<UsageEntry>): WireMap {
  return {
    type: 'UsageReport',
    usage: page.items.map((entry) => ({
      receiver: entry.receiver,
      path: formatPath(entry.path),
      ts: entry.ts,
      bytes: entry.bytes,
    })),
    complete: page.complete,
    throughTs: page.throughTs,
  };
}

function describeWireError(error: WireError): string {
  switch (error.code) {
    case 'WIRE_BAD_FIELD':
      return `${error.field}: ${error.reason}`;
    case 'WIRE_TOO_LARGE':
      return `${error.size} bytes, more than the ${error.max} a message may have`;
    case 'WIRE_MALFORMED':
    case 'WIRE_TRUNCATED':
      return error.reason;
    default:
      return error.code;
  }
}
