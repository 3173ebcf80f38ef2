import { type Result, bytesEqual, err, ok, toHex } from '@postern/core';
import type { CryptoProvider } from '@postern/crypto';
import { type AnswerValue, answerReader } from './answers.ts';
import { type RelayLimits, relayLimits } from './limits.ts';
import { formatPath } from './paths.ts';
import {
  type RelayAnswer,
  type RelayMessage,
  type RelayRequest,
  type SigningKey,
  type WriteRequest,
  isRequest,
  signRelayMessage,
  verifyRelayMessage,
} from './messages.ts';

/**
 * One client's session with one relay, sans I/O: signs requests, matches answers to them by nonce,
 * checks the relay's signature on every answer and the sender's on every record read. The runtime
 * carries the messages and the time. Spec: docs/protocols/relay.md ("Client").
 */
export type ClientFailure =
  /** The relay refused: its code and sentence. */
  | { readonly code: string; readonly error: string }
  | { readonly code: 'RELAY_CLIENT_TIMEOUT' }
  | { readonly code: 'RELAY_CLIENT_TOO_MANY_REQUESTS' }
  | { readonly code: 'RELAY_CLIENT_BAD_ANSWER'; readonly error: string };

export type ClientEvent =
  | { readonly type: 'answer'; readonly id: string; readonly result: Result<unknown, ClientFailure> }
  | { readonly type: 'records'; readonly paths: readonly string[] }
  /** The relay ended this client's listen (a newer connection of the same key took its place). */
  | { readonly type: 'listen-ended'; readonly code: string; readonly error: string }
  /** An answer that fails the relay's signature, or answers nothing we asked: dropped. */
  | { readonly type: 'relay-misbehaved'; readonly reason: string };

export interface RelayClientOptions {
  readonly crypto: CryptoProvider;
  readonly key: SigningKey;
  /** The relay's key, from its address (see `parseRelayAddress`): every answer must be signed by it. */
  readonly relayKey: Uint8Array;
  readonly limits?: Partial<RelayLimits>;
  /** Requests awaiting answers at once. */
  readonly pendingMax?: number;
  /** A request unanswered after this long has failed. */
  readonly requestTimeoutMs?: number;
}

interface Pending {
  readonly type: RelayRequest['type'];
  readonly sentAt: number;
  /** For a read: the path asked for, which the record must be. */
  readonly path?: string;
}

export class RelayClientSession {
  readonly limits: RelayLimits;
  readonly #crypto: CryptoProvider;
  readonly #key: SigningKey;
  readonly #relayKey: Uint8Array;
  readonly #pending = new Map<string, Pending>();
  readonly #pendingMax: number;
  readonly #timeoutMs: number;
  #listenId: string | undefined;

  constructor(options: RelayClientOptions) {
    this.limits = relayLimits(options.limits);
    this.#crypto = options.crypto;
    this.#key = options.key;
    this.#relayKey = options.relayKey;
    this.#pendingMax = options.pendingMax ?? 1024;
    this.#timeoutMs = options.requestTimeoutMs ?? 30_000;
  }

  get relayKey(): Uint8Array {
    return this.#relayKey;
  }

  get pending(): number {
    return this.#pending.size;
  }

  /** A listen was asked for and the relay has not ended it (nor the connection closed). */
  get listening(): boolean {
    return this.#listenId !== undefined;
  }

  /**
   * A signed request, and the id its answer will carry; or a failure if too many are pending. A
   * write is addressed to its receiver; everything else to the relay.
   */
  request(
    body: RelayRequest,
    now: number,
    to?: Uint8Array,
  ): Result<{ id: string; message: RelayMessage<RelayRequest> }, ClientFailure> {
    if (this.#pending.size >= this.#pendingMax) return err({ code: 'RELAY_CLIENT_TOO_MANY_REQUESTS' });
    const message = signRelayMessage(this.#crypto, this.#key, to ?? this.#relayKey, now, body);
    const id = toHex(message.nonce);
    this.#pending.set(id, pendingOf(body, now));
    if (body.type === 'listen') this.#listenId = id;
    return ok({ id, message });
  }

  /** Expects an answer to a message signed earlier (sent again, as a replay test does). */
  track(message: RelayMessage<RelayRequest>, now: number): string {
    const id = toHex(message.nonce);
    this.#pending.set(id, pendingOf(message.request, now));
    return id;
  }

  /** Signs a write of `content` to `receiver`. */
  write(
    receiver: Uint8Array,
    write: Omit<WriteRequest, 'type'>,
    now: number,
  ): Result<{ id: string; message: RelayMessage<RelayRequest> }, ClientFailure> {
    return this.request({ type: 'write', ...write }, now, receiver);
  }

  /** One message from the relay. */
  handleMessage(message: RelayMessage, _now: number): ClientEvent | undefined {
    if (isRequest(message)) return { type: 'relay-misbehaved', reason: `sent a ${message.type} request` };
    if (!bytesEqual(message.from, this.#relayKey)) {
      return { type: 'relay-misbehaved', reason: 'an answer signed by another key' };
    }
    if (!bytesEqual(message.to, this.#key.publicKey) && message.request.type !== 'error') {
      return { type: 'relay-misbehaved', reason: 'an answer addressed to someone else' };
    }
    if (!verifyRelayMessage(this.#crypto, message))
      return { type: 'relay-misbehaved', reason: 'a bad signature' };
    const body = message.request as RelayAnswer;
    const id = toHex(body.re);
    if (body.type === 'records') {
      return id === this.#listenId ? { type: 'records', paths: body.paths } : undefined;
    }
    const pending = this.#pending.get(id);
    if (pending === undefined && body.type === 'error' && id === this.#listenId) {
      this.#listenId = undefined;
      return { type: 'listen-ended', code: body.code, error: body.error };
    }
    if (pending === undefined) return undefined; // a late answer to a request that timed out
    this.#pending.delete(id);
    if (body.type === 'error') {
      if (id === this.#listenId) this.#listenId = undefined; // the listen failed: not listening
      return { type: 'answer', id, result: err({ code: body.code, error: body.error }) };
    }
    return { type: 'answer', id, result: this.#value(pending, body.value) };
  }

  /** Fails requests older than the timeout; idempotent. */
  handleTimeout(now: number): ClientEvent[] {
    const failed: ClientEvent[] = [];
    for (const [id, pending] of this.#pending) {
      if (now - pending.sentAt < this.#timeoutMs) continue;
      this.#pending.delete(id);
      if (id === this.#listenId) this.#listenId = undefined;
      failed.push({ type: 'answer', id, result: err({ code: 'RELAY_CLIENT_TIMEOUT' }) });
    }
    return failed;
  }

  /** The earliest time a pending request times out. */
  nextTimeout(): number | undefined {
    let earliest: number | undefined;
    for (const pending of this.#pending.values()) {
      const at = pending.sentAt + this.#timeoutMs;
      if (earliest === undefined || at < earliest) earliest = at;
    }
    return earliest;
  }

  /** The connection is gone: every pending request fails. */
  handleClosed(): ClientEvent[] {
    const failed = [...this.#pending.keys()].map((id): ClientEvent => ({
      type: 'answer',
      id,
      result: err({ code: 'RELAY_CLIENT_TIMEOUT' }),
    }));
    this.#pending.clear();
    this.#listenId = undefined;
    return failed;
  }

  #value(pending: Pending, value: unknown): Result<unknown, ClientFailure> {
    const { type } = pending;
    const read = answerReader(type, this.limits)(value as never, '$.value');
    if (!read.ok) return err({ code: 'RELAY_CLIENT_BAD_ANSWER', error: JSON.stringify(read.error) });
    if (type === 'read' && read.value !== null) {
      // The relay cannot forge a record: it must carry its sender's signature.
      const record = read.value as AnswerValue<'read'>;
      if (record === null || !verifyRelayMessage(this.#crypto, record)) {
        return err({
          code: 'RELAY_CLIENT_BAD_ANSWER',
          error: "a record without its sender's valid signature",
        });
      }
      const path = formatPath({
        receiver: record.to,
        sender: record.from,
        recordId: record.request.recordId,
      });
      if (!bytesEqual(record.to, this.#key.publicKey) || path !== pending.path) {
        return err({ code: 'RELAY_CLIENT_BAD_ANSWER', error: 'a record other than the one asked for' });
      }
    }
    return ok(read.value);
  }
}

function pendingOf(body: RelayRequest, now: number): Pending {
  return body.type === 'read'
    ? { type: 'read', sentAt: now, path: body.path }
    : { type: body.type, sentAt: now };
}
