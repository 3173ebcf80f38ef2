import { assert, concatBytes, err, ok, UsageError, type Result } from '@postern/core';
import type { CryptoError, CryptoProvider } from '@postern/crypto';
import { CipherState } from './cipher-state.ts';
import type { NoiseError } from './errors.ts';
import { checkHandshakeKeys, generateKeyPair, isLowOrder, type NoiseKeyPair } from './keys.ts';
import {
  DH_BYTES,
  NOISE_MESSAGE_BYTES_MAX,
  resolveNoiseLimits,
  TAG_BYTES,
  type NoiseLimits,
} from './limits.ts';
import { messageBytes, type HandshakePattern, type Token } from './patterns.ts';
import { parseProtocolName } from './protocol.ts';
import { SymmetricState } from './symmetric-state.ts';
import type { HandshakeOptions, HandshakeStatus, TransportCipherStates } from './types.ts';

const EMPTY = new Uint8Array(0);

/** Throws UsageError for an unsupported protocol name or keys that do not fit the pattern. */
export function createHandshake(crypto: CryptoProvider, options: HandshakeOptions): HandshakeState {
  return new HandshakeState(crypto, options);
}

/**
 * The HandshakeState of §5.3, sans-I/O: the caller moves the bytes. A message that fails to read
 * (bad tag, low-order key, wrong length) kills the handshake (§5.3): every later call reports
 * NOISE_HANDSHAKE_FAILED. The secrets (k, ck, the ephemeral key) never leave; split() hands out
 * the transport keys inside CipherStates, once.
 */
export class HandshakeState {
  readonly protocolName: string;
  readonly isInitiator: boolean;
  private readonly crypto: CryptoProvider;
  private readonly pattern: HandshakePattern;
  private readonly symmetric: SymmetricState;
  private readonly limits: NoiseLimits;
  private readonly s: NoiseKeyPair | undefined;
  private readonly injectedEphemeral: NoiseKeyPair | undefined;
  private readonly psks: readonly Uint8Array[];
  private e: NoiseKeyPair | undefined;
  private rs: Uint8Array | undefined;
  private re: Uint8Array | undefined;
  /** Remote keys read but not yet used in a DH: checked for low order before the read returns. */
  private readonly unchecked = new Set<'e' | 's'>();
  /** DH results our next message needs, computed early to check a remote key (see checkRemoteKeys). */
  private readonly precomputed = new Map<DhToken, Uint8Array>();
  private messageIndex = 0;
  private pskIndex = 0;
  private failed = false;
  private splitDone = false;

  constructor(crypto: CryptoProvider, options: HandshakeOptions) {
    const protocol = parseProtocolName(options.protocolName);
    const keys = checkHandshakeKeys(crypto, protocol.pattern, options);
    this.protocolName = protocol.name;
    this.isInitiator = options.initiator;
    this.crypto = crypto;
    this.pattern = protocol.pattern;
    this.limits = resolveNoiseLimits(options.limits);
    this.s = keys.s;
    this.injectedEphemeral = keys.e;
    this.rs = keys.rs;
    this.psks = keys.psks;
    this.symmetric = new SymmetricState(crypto, protocol);
    this.symmetric.mixHash(options.prologue ?? EMPTY);
    // §5.3 Initialize: one MixHash per pre-message public key, the initiator's first.
    if (this.pattern.initiatorPreShared) this.symmetric.mixHash(this.staticKeyOf(true));
    if (this.pattern.responderPreShared) this.symmetric.mixHash(this.staticKeyOf(false));
  }

  get status(): HandshakeStatus {
    if (this.failed) return 'failed';
    if (this.messageIndex === this.pattern.messages.length) return 'complete';
    return (this.messageIndex % 2 === 0) === this.isInitiator ? 'write' : 'read';
  }

  get isComplete(): boolean {
    return this.status === 'complete';
  }

  /** The peer's static public key once known (pre-shared or received), else undefined. */
  get remoteStaticKey(): Uint8Array | undefined {
    return this.rs?.slice();
  }

  /** §11.2 channel binding; throws UsageError 'NOISE_HANDSHAKE_NOT_DONE' before completion. */
  get handshakeHash(): Uint8Array {
    this.requireComplete();
    return this.symmetric.handshakeHash;
  }

  /**
   * §5.3 WriteMessage. Throws UsageError when it is not our turn ('NOISE_NOT_MY_TURN'), after the
   * end ('NOISE_HANDSHAKE_DONE') or a failure ('NOISE_HANDSHAKE_FAILED'), and when the message would
   * exceed 65535 bytes ('NOISE_PAYLOAD_TOO_LARGE') — checked before any state changes.
   */
  writeMessage(payload: Uint8Array = EMPTY): Uint8Array {
    this.requireWriteTurn();
    const tokens = this.currentTokens();
    const length = messageBytes(tokens, this.symmetric.hasKey, this.pattern.isPsk, payload.length);
    if (length > NOISE_MESSAGE_BYTES_MAX) {
      throw new UsageError(
        'NOISE_PAYLOAD_TOO_LARGE',
        `a ${payload.length}-byte payload makes a ${length}-byte handshake message; the limit is ${NOISE_MESSAGE_BYTES_MAX}`,
      );
    }
    const parts = tokens.map((token) => this.writeToken(token));
    parts.push(this.symmetric.encryptAndHash(payload));
    this.messageIndex += 1;
    const message = concatBytes(...parts);
    assert(message.length === length, 'handshake message has the length computed for it');
    return message;
  }

  /**
   * §5.3 ReadMessage: the peer's payload, or a typed error for any bytes that are not the expected
   * message. Never throws. A message when none is expected is NOISE_UNEXPECTED_MESSAGE.
   */
  readMessage(message: Uint8Array): Result<Uint8Array, NoiseError> {
    const status = this.status;
    if (status === 'failed') return err({ code: 'NOISE_HANDSHAKE_FAILED' });
    if (status === 'complete') return err({ code: 'NOISE_UNEXPECTED_MESSAGE', status });
    const result: Result<Uint8Array, NoiseError> =
      status === 'read' ? this.readTokens(message) : err({ code: 'NOISE_UNEXPECTED_MESSAGE', status });
    if (result.ok) this.messageIndex += 1;
    else this.fail();
    return result;
  }

  /**
   * The transport CipherStates: `send` is c1 for the initiator and c2 for the responder (§5.2). Once
   * only: a second holder of the same keys would reuse nonces. On a one-way pattern the responder's
   * `send` and the initiator's `receive` refuse every call (§7.4).
   */
  split(): TransportCipherStates {
    this.requireComplete();
    if (this.splitDone) {
      throw new UsageError('NOISE_ALREADY_SPLIT', 'split() hands out the transport keys once');
    }
    this.splitDone = true;
    const handshakeHash = this.symmetric.handshakeHash;
    const [k1, k2] = this.symmetric.split();
    const { messagesPerKeyMax } = this.limits;
    const c1 = new CipherState(this.crypto, k1, { messagesPerKeyMax, unused: false });
    const c2 = new CipherState(this.crypto, k2, { messagesPerKeyMax, unused: this.pattern.isOneWay });
    this.e = undefined;
    return this.isInitiator
      ? { send: c1, receive: c2, handshakeHash }
      : { send: c2, receive: c1, handshakeHash };
  }

  private writeToken(token: Token): Uint8Array {
    switch (token) {
      case 'e': {
        // §5.3: e must be empty; a fresh key unless a vector test injected one.
        assert(this.e === undefined, 'one ephemeral key per handshake');
        this.e = this.injectedEphemeral ?? generateKeyPair(this.crypto);
        this.mixEphemeral(this.e.publicKey);
        return this.e.publicKey.slice();
      }
      case 's':
        assert(this.s !== undefined, 'a pattern that sends s has our static key (checked at creation)');
        return this.symmetric.encryptAndHash(this.s.publicKey);
      case 'psk':
        this.symmetric.mixKeyAndHash(this.nextPsk());
        return EMPTY;
      default: {
        // Remote keys were checked for low order where they arrived, so no DH here can fail.
        const shared = this.takePrecomputed(token) ?? this.dh(token);
        assert(shared.ok, `DH ${token} with a checked remote key`);
        this.symmetric.mixKey(shared.value);
        shared.value.fill(0);
        return EMPTY;
      }
    }
  }

  private readTokens(message: Uint8Array): Result<Uint8Array, NoiseError> {
    if (message.length > NOISE_MESSAGE_BYTES_MAX) {
      return err({
        code: 'NOISE_MESSAGE_TOO_LARGE',
        lengthBytes: message.length,
        maxBytes: NOISE_MESSAGE_BYTES_MAX,
      });
    }
    const tokens = this.currentTokens();
    const minBytes = messageBytes(tokens, this.symmetric.hasKey, this.pattern.isPsk, 0);
    if (message.length < minBytes) {
      return err({ code: 'NOISE_TRUNCATED', lengthBytes: message.length, minBytes });
    }
    let offset = 0;
    for (const token of tokens) {
      const next = this.readToken(token, message, offset);
      if (!next.ok) return next;
      offset = next.value;
    }
    if (!this.checkRemoteKeys()) return err({ code: 'NOISE_BAD_KEY' });
    const payload = this.symmetric.decryptAndHash(message.subarray(offset));
    return payload.ok ? payload : err({ code: 'NOISE_DECRYPT_FAILED' });
  }

  /** Processes one token of a received message; gives the offset after it. */
  private readToken(token: Token, message: Uint8Array, offset: number): Result<number, NoiseError> {
    switch (token) {
      case 'e': {
        this.re = message.slice(offset, offset + DH_BYTES);
        this.mixEphemeral(this.re);
        this.unchecked.add('e');
        return ok(offset + DH_BYTES);
      }
      case 's': {
        const end = offset + DH_BYTES + (this.symmetric.hasKey ? TAG_BYTES : 0);
        const opened = this.symmetric.decryptAndHash(message.subarray(offset, end));
        if (!opened.ok) return err({ code: 'NOISE_DECRYPT_FAILED' });
        this.rs = opened.value;
        this.unchecked.add('s');
        return ok(end);
      }
      case 'psk':
        this.symmetric.mixKeyAndHash(this.nextPsk());
        return ok(offset);
      default: {
        const shared = this.dh(token);
        if (!shared.ok) return err({ code: 'NOISE_BAD_KEY' });
        this.unchecked.delete(dhRoles(token, this.isInitiator).remote);
        this.symmetric.mixKey(shared.value);
        shared.value.fill(0);
        return ok(offset);
      }
    }
  }

  /**
   * A remote key this message did not use in a DH must still be refused here if it is low-order,
   * so that writing the next message cannot fail. The check is a DH that gives zero: when our next
   * message has a DH of that key with a key we already hold, that DH is the check, kept for the
   * write (no extra scalar multiplication: the XX responder's `es` checks the `e` it just read);
   * otherwise a DH with a fixed scalar is.
   */
  private checkRemoteKeys(): boolean {
    const next = this.pattern.messages[this.messageIndex + 1] ?? [];
    for (const remote of this.unchecked) {
      const token = next.find(
        (t): t is DhToken => isDhToken(t) && this.dhUses(t, remote) && this.holdsLocalKey(t),
      );
      if (token === undefined) {
        if (isLowOrder(this.crypto, this.remoteKey(remote))) return false;
        continue;
      }
      const shared = this.dh(token);
      if (!shared.ok) return false;
      this.precomputed.set(token, shared.value);
    }
    this.unchecked.clear();
    return true;
  }

  private dhUses(token: DhToken, remote: 'e' | 's'): boolean {
    return dhRoles(token, this.isInitiator).remote === remote;
  }

  private holdsLocalKey(token: DhToken): boolean {
    return (dhRoles(token, this.isInitiator).local === 'e' ? this.e : this.s) !== undefined;
  }

  private takePrecomputed(token: DhToken): Result<Uint8Array, CryptoError> | undefined {
    const shared = this.precomputed.get(token);
    if (shared === undefined) return undefined;
    this.precomputed.delete(token);
    return ok(shared);
  }

  /** §9.2: in a psk handshake every ephemeral public key is also mixed into the key. */
  private mixEphemeral(publicKey: Uint8Array): void {
    this.symmetric.mixHash(publicKey);
    if (this.pattern.isPsk) this.symmetric.mixKey(publicKey);
  }

  private dh(token: DhToken): Result<Uint8Array, CryptoError> {
    const { local, remote } = dhRoles(token, this.isInitiator);
    const localKey = local === 'e' ? this.e : this.s;
    assert(localKey !== undefined, `our ${local} key exists for ${token} (the pattern is valid)`);
    return this.crypto.x25519(localKey.secretKey, this.remoteKey(remote));
  }

  private remoteKey(which: 'e' | 's'): Uint8Array {
    const key = which === 'e' ? this.re : this.rs;
    assert(key !== undefined, `the peer's ${which} key is known when used (the pattern is valid)`);
    return key;
  }

  private staticKeyOf(initiator: boolean): Uint8Array {
    const key = initiator === this.isInitiator ? this.s?.publicKey : this.rs;
    assert(key !== undefined, 'pre-shared keys were required at creation');
    return key;
  }

  private nextPsk(): Uint8Array {
    const psk = this.psks[this.pskIndex];
    assert(psk !== undefined, 'one psk per psk token (checked at creation)');
    this.pskIndex += 1;
    return psk;
  }

  private currentTokens(): readonly Token[] {
    const tokens = this.pattern.messages[this.messageIndex];
    assert(tokens !== undefined, 'a message remains in the pattern');
    return tokens;
  }

  /** §5.3: after an error the HandshakeState is deleted; here it stays, refusing everything. */
  private fail(): void {
    this.failed = true;
    this.e = undefined;
    for (const shared of this.precomputed.values()) shared.fill(0);
    this.precomputed.clear();
  }

  private requireWriteTurn(): void {
    const status = this.status;
    if (status === 'write') return;
    const [code, message] = (
      {
        read: ['NOISE_NOT_MY_TURN', 'the peer sends the next handshake message: call readMessage'],
        complete: ['NOISE_HANDSHAKE_DONE', 'the handshake is complete: call split() for the transport'],
        failed: ['NOISE_HANDSHAKE_FAILED', 'an earlier handshake message failed: start a new handshake'],
      } as const
    )[status];
    throw new UsageError(code, message);
  }

  private requireComplete(): void {
    if (this.status !== 'complete') {
      throw new UsageError(
        'NOISE_HANDSHAKE_NOT_DONE',
        `the handshake is not complete (status: ${this.status})`,
      );
    }
  }
}

type DhToken = Exclude<Token, 'e' | 's' | 'psk'>;

function isDhToken(token: Token): token is DhToken {
  return token !== 'e' && token !== 's' && token !== 'psk';
}

/** A DH token names the initiator's key then the responder's (§7.1): 'es' is DH(initiator e, responder s). */
function dhRoles(token: DhToken, initiator: boolean): { local: 'e' | 's'; remote: 'e' | 's' } {
  const first = token[0] === 'e' ? 'e' : 's';
  const second = token[1] === 'e' ? 'e' : 's';
  return initiator ? { local: first, remote: second } : { local: second, remote: first };
}
