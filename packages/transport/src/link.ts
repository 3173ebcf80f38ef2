import {
  type Millis,
  type NodeId,
  type Output,
  type Result,
  UsageError,
  bytesEqual,
  concatBytes,
  err,
  ok,
  utf8,
} from '@postern/core';
import type { CryptoProvider } from '@postern/crypto';
import { type CipherState, type HandshakeState, createHandshake } from '@postern/noise';
import { FrameDecoder, encodeFrameHeader } from '@postern/wire';
import { type NodeAnnouncement, decodeAnnouncement, encodeAnnouncement } from './announcement.ts';
import { CloseCode, type CloseCodeName, closeCodeName } from './close.ts';
import {
  DEFAULT_LINK_LIMITS,
  type LinkLimits,
  NOISE_MESSAGE_BYTES_MAX,
  RECORD_PLAINTEXT_BYTES_MAX,
} from './limits.ts';
import type { NodeKeys } from './node-keys.ts';
import {
  FLAG_FINAL,
  type LinkRecord,
  RECORD_HEADER_BYTES,
  RecordKind,
  closeReasonText,
  closeRecord,
  decodeRecord,
  encodeRecord,
} from './records.ts';
import { SendQueues } from './send-queues.ts';

/**
 * One authenticated, encrypted, multiplexed link to a peer, sans-I/O: the runtime feeds it the bytes
 * a socket reads (`receive`), writes what `pull` gives it when the socket can take more, and calls
 * `handleTimeout` when `pollOutput` says. Spec: docs/protocols/transport.md.
 *
 * Handshake: Noise XX (or IK when the peer's static key is known), BLAKE2b. The initiator's first
 * frame starts with one negotiation byte naming the pattern, which is also in the prologue. Each
 * side's handshake payload is its signed node announcement (none in XX's first message, which is
 * sent in the clear).
 */
export type HandshakePattern = 'XX' | 'IK';
const PATTERN_BYTE: Record<HandshakePattern, number> = { XX: 1, IK: 2 };
const PROTOCOL_NAME: Record<HandshakePattern, string> = {
  XX: 'Noise_XX_25519_ChaChaPoly_BLAKE2b',
  IK: 'Noise_IK_25519_ChaChaPoly_BLAKE2b',
};
const PROLOGUE = utf8('postern/link/v1\n');
const MAX_FRAGMENT_BYTES = RECORD_PLAINTEXT_BYTES_MAX - RECORD_HEADER_BYTES;

export type LinkEvent =
  | { type: 'established'; nodeId: NodeId; announcement: NodeAnnouncement; handshakeHash: Uint8Array }
  | { type: 'message'; protocol: number; bytes: Uint8Array }
  | { type: 'drained'; protocol: number }
  | { type: 'closed'; code: CloseCodeName; detail: string; byPeer: boolean };

/** A frame as two chunks: its 4-byte length header and its body. */
type Frame = [header: Uint8Array, body: Uint8Array];

export type LinkState = 'handshaking' | 'established' | 'closing' | 'closed';
export type LinkSendError = { code: 'LINK_QUEUE_FULL'; protocol: number } | { code: 'LINK_CLOSED' };

export interface LinkOptions {
  readonly crypto: CryptoProvider;
  readonly keys: NodeKeys;
  readonly announcement: NodeAnnouncement;
  readonly role: 'initiator' | 'responder';
  /** Initiator only: IK needs `remoteStaticKey`. Default XX. */
  readonly pattern?: HandshakePattern;
  readonly remoteStaticKey?: Uint8Array;
  /** When dialing a known node: any other node answering is refused. */
  readonly expectedNodeId?: NodeId;
  readonly limits?: Partial<LinkLimits>;
  readonly now: Millis;
}

export class Link {
  readonly role: 'initiator' | 'responder';
  readonly limits: LinkLimits;
  readonly #crypto: CryptoProvider;
  readonly #keys: NodeKeys;
  readonly #announcement: Uint8Array;
  readonly #expectedNodeId: NodeId | undefined;
  readonly #frames = new FrameDecoder({ maxFrameBytes: NOISE_MESSAGE_BYTES_MAX + 1, shareChunks: true });
  readonly #queues: SendQueues;
  readonly #events: LinkEvent[] = [];
  readonly #handshakeFrames: Frame[] = [];
  readonly #control: LinkRecord[] = [];
  readonly #partial = new Map<number, { chunks: Uint8Array[]; bytes: number }>();
  #state: LinkState = 'handshaking';
  #pattern: HandshakePattern | undefined;
  #handshake: HandshakeState | undefined;
  #handshakeMessages = 0;
  #send: CipherState | undefined;
  #receive: CipherState | undefined;
  #sentRecords = 0;
  #receivedRecords = 0;
  #remoteNodeId: NodeId | undefined;
  #deadline: number;
  #lastSentAt: number;
  #lastReceivedAt: number;
  #pingPending = false;
  #pendingAnnouncement: NodeAnnouncement | undefined;

  constructor(options: LinkOptions) {
    this.role = options.role;
    this.limits = { ...DEFAULT_LINK_LIMITS, ...options.limits };
    this.#crypto = options.crypto;
    this.#keys = options.keys;
    this.#announcement = encodeAnnouncement(options.announcement);
    this.#expectedNodeId = options.expectedNodeId;
    this.#queues = new SendQueues(this.limits.queueBytesPerProtocolMax);
    this.#deadline = options.now + this.limits.handshakeTimeoutMs;
    this.#lastSentAt = this.#lastReceivedAt = options.now;
    if (options.role === 'initiator') this.#startHandshake(options.pattern ?? 'XX', options.remoteStaticKey);
  }

  get state(): LinkState {
    return this.#state;
  }

  /** The peer's node id, once its announcement has been checked. */
  get remoteNodeId(): NodeId | undefined {
    return this.#remoteNodeId;
  }

  /** Bytes queued for sending, all protocols. */
  get queuedBytes(): number {
    return this.#queues.totalBytes;
  }

  /** Queues a message for `protocol` (1–65535). Allowed during the handshake: it goes out once established. */
  send(protocol: number, message: Uint8Array): Result<void, LinkSendError> {
    if (!Number.isInteger(protocol) || protocol < 1 || protocol > 0xffff) {
      throw new UsageError('LINK_BAD_PROTOCOL', `a protocol id is 1 to 65535, got ${protocol}`);
    }
    if (message.length > this.limits.messageBytesMax) {
      throw new UsageError(
        'LINK_MESSAGE_TOO_LARGE',
        `a message is at most ${this.limits.messageBytesMax} bytes`,
      );
    }
    if (this.#state === 'closing' || this.#state === 'closed') return err({ code: 'LINK_CLOSED' });
    return this.#queues.push(protocol, message) ? ok(undefined) : err({ code: 'LINK_QUEUE_FULL', protocol });
  }

  /** Graceful close: what is queued is sent, then a CLOSE record. */
  close(now: Millis): void {
    if (this.#state === 'closed' || this.#state === 'closing') return;
    if (this.#state === 'handshaking') return this.#fail('Normal', 'closed during the handshake', now);
    this.#state = 'closing';
    this.#deadline = now + this.limits.handshakeTimeoutMs;
  }

  /** Bytes read from the socket, in any chunking. The link may keep views of them: do not modify them afterwards. */
  receive(bytes: Uint8Array, now: Millis): void {
    if (this.#state === 'closed') return;
    this.#lastReceivedAt = now;
    const frames = this.#frames.push(bytes);
    if (!frames.ok) return this.#fail('FrameTooLarge', `a frame of ${frames.error.size} bytes`, now);
    for (const frame of frames.value) {
      if ((this.#state as LinkState) === 'closed') return; // a frame may have closed the link
      if (this.#handshake !== undefined || this.#state === 'handshaking') this.#handshakeFrame(frame, now);
      else this.#transportFrame(frame, now);
    }
  }

  handleTimeout(now: Millis): void {
    if (this.#state === 'closed') return;
    if (this.#state === 'handshaking' && now >= this.#deadline)
      return this.#fail('HandshakeTimeout', 'handshake stalled', now);
    if (this.#state === 'closing' && now >= this.#deadline) return this.#finishClose('closing timed out');
    if (now >= this.#lastReceivedAt + 2 * this.limits.keepaliveMs)
      return this.#fail('IdleTimeout', 'peer silent', now);
    if (
      this.#state === 'established' &&
      now >= this.#lastSentAt + this.limits.keepaliveMs &&
      !this.#pingPending
    ) {
      this.#pingPending = true;
      this.#control.push({ kind: RecordKind.Ping, tag: 0, flags: 0, payload: new Uint8Array(8) });
    }
  }

  /**
   * The next bytes to write, as chunks to write in order (a frame's header and its body are separate
   * chunks, so a vectored write sends them without copying): handshake messages, then control
   * records, then data fragments taken round-robin across protocols. At least one frame when
   * anything is pending, about `maxBytes` at most; empty when nothing is. Encryption happens here,
   * so nonces follow the order bytes reach the wire.
   */
  pull(maxBytes: number, now: Millis): Uint8Array[] {
    const out: Uint8Array[] = [];
    let size = 0;
    while (size < maxBytes) {
      const frame = this.#nextFrame(now);
      if (frame === undefined) break;
      out.push(...frame);
      size += frame[1].length;
    }
    if (this.#state === 'closing' && this.#queues.totalBytes === 0 && this.#control.length === 0) {
      out.push(...this.#encryptFrame(closeRecord(CloseCode.Normal, 'bye'), now));
      this.#finishClose('closed');
    }
    return out;
  }

  pollOutput(): Output<LinkEvent> {
    const event = this.#events.shift();
    return event ? { type: 'event', event } : { type: 'timeout', at: this.#nextTimeout() };
  }

  #nextTimeout(): Millis | undefined {
    if (this.#state === 'closed') return undefined;
    if (this.#state === 'handshaking' || this.#state === 'closing') return this.#deadline as Millis;
    return Math.min(
      this.#lastSentAt + this.limits.keepaliveMs,
      this.#lastReceivedAt + 2 * this.limits.keepaliveMs,
    ) as Millis;
  }

  #nextFrame(now: Millis): Frame | undefined {
    const handshake = this.#handshakeFrames.shift();
    if (handshake !== undefined) return handshake;
    if (this.#send === undefined || this.#state === 'closed') return undefined;
    const control = this.#control.shift();
    if (control !== undefined) return this.#encryptFrame(control, now);
    const fragment = this.#queues.nextFragment(MAX_FRAGMENT_BYTES);
    if (fragment === undefined) return undefined;
    for (const protocol of fragment.drained) this.#events.push({ type: 'drained', protocol });
    const flags = fragment.final ? FLAG_FINAL : 0;
    return this.#encryptFrame(
      { kind: RecordKind.Data, tag: fragment.protocol, flags, payload: fragment.bytes },
      now,
    );
  }

  #encryptFrame(record: LinkRecord, now: Millis): Frame {
    const cipher = this.#send as CipherState;
    const plaintext = encodeRecord(record, this.limits.paddingBlockBytes, RECORD_PLAINTEXT_BYTES_MAX);
    const body = cipher.encrypt(plaintext);
    if (++this.#sentRecords % this.limits.rekeyIntervalMessages === 0) cipher.rekey();
    this.#lastSentAt = now;
    return [encodeFrameHeader(body.length), body];
  }

  #startHandshake(pattern: HandshakePattern, remoteStaticKey: Uint8Array | undefined): void {
    if (pattern === 'IK' && this.role === 'initiator' && remoteStaticKey === undefined) {
      throw new UsageError('LINK_IK_NEEDS_KEY', 'an IK handshake needs the remote static key');
    }
    this.#pattern = pattern;
    this.#handshake = createHandshake(this.#crypto, {
      protocolName: PROTOCOL_NAME[pattern],
      initiator: this.role === 'initiator',
      prologue: concatBytes(PROLOGUE, new Uint8Array([PATTERN_BYTE[pattern]])),
      staticKeyPair: this.#keys.staticKey,
      ...(this.role === 'initiator' && remoteStaticKey ? { remoteStaticKey } : {}),
    });
    if (this.role === 'initiator') this.#writeHandshake(new Uint8Array([PATTERN_BYTE[pattern]]));
  }

  /** Writes our next handshake message; XX's first message is in the clear, so it carries nothing. */
  #writeHandshake(prefix: Uint8Array = new Uint8Array(0)): void {
    const hs = this.#handshake as HandshakeState;
    const payload =
      this.#pattern === 'XX' && this.#handshakeMessages === 0 ? new Uint8Array(0) : this.#announcement;
    this.#handshakeMessages++;
    const body = concatBytes(prefix, hs.writeMessage(payload));
    this.#handshakeFrames.push([encodeFrameHeader(body.length), body]);
  }

  #handshakeFrame(frame: Uint8Array, now: Millis): void {
    let message = frame;
    if (this.#handshake === undefined) {
      const pattern = frame[0] === PATTERN_BYTE.XX ? 'XX' : frame[0] === PATTERN_BYTE.IK ? 'IK' : undefined;
      if (pattern === undefined) return this.#fail('ProtocolViolation', 'unknown handshake pattern', now);
      this.#startHandshake(pattern, undefined);
      message = frame.subarray(1);
    }
    const hs = this.#handshake as HandshakeState;
    const payload = hs.readMessage(message);
    if (!payload.ok) return this.#fail('HandshakeFailed', payload.error.code, now);
    const expectsAnnouncement = !(this.#pattern === 'XX' && this.#handshakeMessages === 0);
    this.#handshakeMessages++;
    if (expectsAnnouncement && !this.#acceptAnnouncement(payload.value, hs, now)) return;
    if (!expectsAnnouncement && payload.value.length !== 0) {
      return this.#fail('ProtocolViolation', 'payload in the clear first message', now);
    }
    if (!hs.isComplete) this.#writeHandshake();
    if (hs.isComplete) this.#establish(hs);
  }

  #acceptAnnouncement(bytes: Uint8Array, hs: HandshakeState, now: Millis): boolean {
    const remoteStatic = hs.remoteStaticKey;
    const checked = remoteStatic ? decodeAnnouncement(this.#crypto, bytes, remoteStatic) : undefined;
    if (!checked?.ok) {
      this.#fail('BadAnnouncement', checked ? checked.error.code : 'no static key', now);
      return false;
    }
    if (this.#expectedNodeId !== undefined && !bytesEqual(checked.value.nodeId, this.#expectedNodeId)) {
      this.#fail('UnexpectedNode', 'another node answered', now);
      return false;
    }
    this.#remoteNodeId = checked.value.nodeId;
    this.#pendingAnnouncement = checked.value.announcement;
    return true;
  }

  #establish(hs: HandshakeState): void {
    const { send, receive, handshakeHash } = hs.split();
    this.#send = send;
    this.#receive = receive;
    this.#handshake = undefined;
    this.#state = 'established';
    const nodeId = this.#remoteNodeId as NodeId;
    const announcement = this.#pendingAnnouncement as NodeAnnouncement;
    this.#pendingAnnouncement = undefined;
    this.#events.push({ type: 'established', nodeId, announcement, handshakeHash });
  }

  #transportFrame(frame: Uint8Array, now: Millis): void {
    const cipher = this.#receive as CipherState;
    const plaintext = cipher.decrypt(frame);
    if (!plaintext.ok)
      return this.#fail(
        'DecryptFailed',
        'a frame failed authentication (tampered, replayed or reordered)',
        now,
      );
    if (++this.#receivedRecords % this.limits.rekeyIntervalMessages === 0) cipher.rekey();
    const record = decodeRecord(plaintext.value);
    if (!record.ok) return this.#fail('ProtocolViolation', record.error, now);
    const { kind, tag, flags, payload } = record.value;
    if (kind === RecordKind.Data) return this.#dataRecord(tag, flags, payload, now);
    if (kind === RecordKind.Ping) {
      if (!this.#control.some((r) => r.kind === RecordKind.Pong))
        this.#control.push({ kind: RecordKind.Pong, tag: 0, flags: 0, payload });
      return;
    }
    if (kind === RecordKind.Pong) {
      this.#pingPending = false;
      return;
    }
    this.#peerClosed(tag, closeReasonText(payload));
  }

  #dataRecord(protocol: number, flags: number, payload: Uint8Array, now: Millis): void {
    if (protocol === 0) return this.#fail('ProtocolViolation', 'data for protocol 0', now);
    const partial = this.#partial.get(protocol);
    const bytes = (partial?.bytes ?? 0) + payload.length;
    if (bytes > this.limits.messageBytesMax)
      return this.#fail('MessageTooLarge', `more than ${this.limits.messageBytesMax} bytes`, now);
    if ((flags & FLAG_FINAL) !== 0) {
      this.#partial.delete(protocol);
      // The plaintext is a fresh buffer per record, owned here: a view of it needs no copy.
      const message = partial ? concatBytes(...partial.chunks, payload) : payload;
      this.#events.push({ type: 'message', protocol, bytes: message });
      return;
    }
    if (partial === undefined && this.#partial.size >= this.limits.reassemblyProtocolsMax) {
      return this.#fail('ProtocolViolation', 'too many partial messages at once', now);
    }
    const entry = partial ?? { chunks: [], bytes: 0 };
    entry.chunks.push(payload);
    entry.bytes = bytes;
    this.#partial.set(protocol, entry);
  }

  #peerClosed(code: number, detail: string): void {
    this.#shutdown();
    this.#events.push({ type: 'closed', code: closeCodeName(code), detail, byPeer: true });
  }

  /** Ends the link for a local reason; once established, the peer is told why (best effort). */
  #fail(code: CloseCodeName, detail: string, now: Millis): void {
    const established = this.#send !== undefined && this.#state !== 'closed';
    this.#shutdown();
    if (established)
      this.#handshakeFrames.push(this.#encryptFrame(closeRecord(CloseCode[code], detail), now));
    this.#events.push({ type: 'closed', code, detail, byPeer: false });
  }

  #finishClose(detail: string): void {
    this.#shutdown();
    this.#events.push({ type: 'closed', code: 'Normal', detail, byPeer: false });
  }

  #shutdown(): void {
    this.#state = 'closed';
    this.#handshake = undefined;
    this.#queues.clear();
    this.#control.length = 0;
    this.#partial.clear();
  }
}
