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
  writeU32BE,
} from '@postern/core';
import type { CryptoProvider } from '@postern/crypto';
import { type CipherState, type HandshakeState, createHandshake } from '@postern/noise';
import { FRAME_HEADER_BYTES, FrameDecoder, encodeFrame } from '@postern/wire';
import {
  type NodeAnnouncement,
  type VerifiedAnnouncements,
  decodeAnnouncement,
  encodeAnnouncement,
} from './announcement.ts';
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
  FLAG_GRACEFUL,
  PING_BYTES,
  type LinkRecord,
  RecordKind,
  closeReasonText,
  closeRecord,
  decodeRecord,
  recordLength,
  writeRecord,
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
/** A Noise message, plus the initiator's negotiation byte on the first. */
const MAX_FRAME_BYTES = NOISE_MESSAGE_BYTES_MAX + 1;
const TAG_BYTES = 16;

export type LinkEvent =
  | { type: 'established'; nodeId: NodeId; announcement: NodeAnnouncement; handshakeHash: Uint8Array }
  /** `bytes` may be a view into a larger buffer (a socket read): use it, never its `.buffer`. */
  | { type: 'message'; protocol: number; bytes: Uint8Array }
  | { type: 'drained'; protocol: number }
  | { type: 'closed'; code: CloseCodeName; detail: string; byPeer: boolean };

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
  /** Shared by a host's links: a reconnecting peer's announcement is not verified again. */
  readonly verifiedAnnouncements?: VerifiedAnnouncements;
  readonly now: Millis;
}

export class Link {
  readonly role: 'initiator' | 'responder';
  readonly limits: LinkLimits;
  readonly #crypto: CryptoProvider;
  readonly #keys: NodeKeys;
  readonly #announcement: Uint8Array;
  readonly #expectedNodeId: NodeId | undefined;
  readonly #verified: VerifiedAnnouncements | undefined;
  readonly #frames = new FrameDecoder({ maxFrameBytes: MAX_FRAME_BYTES, shareChunks: true });
  readonly #queues: SendQueues;
  readonly #events: LinkEvent[] = [];
  /** Frames built ahead of pull: handshake messages, and the CLOSE of a link that failed. */
  readonly #readyFrames: Uint8Array[] = [];
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
  #handshakeHash: Uint8Array | undefined;
  #closeCode: CloseCodeName = 'Normal';
  #closeDetail = 'bye';
  #closeSent = false;
  #peerClosing = false;
  #peerDetail = '';

  constructor(options: LinkOptions) {
    this.role = options.role;
    this.limits = { ...DEFAULT_LINK_LIMITS, ...options.limits };
    this.#crypto = options.crypto;
    this.#keys = options.keys;
    this.#announcement = encodeAnnouncement(options.announcement);
    this.#expectedNodeId = options.expectedNodeId;
    this.#verified = options.verifiedAnnouncements;
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

  /**
   * Graceful close: what is queued is sent, then a CLOSE record; the link keeps reading until the
   * peer's own CLOSE (the peer flushes first), or `closeTimeoutMs`.
   */
  close(now: Millis, code: CloseCodeName = 'Normal', detail = 'bye'): void {
    if (this.#state === 'closed' || this.#state === 'closing') return;
    if (this.#state === 'handshaking') return this.#fail(code, `${detail} (during the handshake)`, now);
    this.#state = 'closing';
    this.#closeCode = code;
    this.#closeDetail = detail;
    this.#deadline = now + this.limits.closeTimeoutMs;
  }

  /**
   * Bytes read from the socket, in any chunking. The link takes them over: it keeps views of them
   * and decrypts over them, so pass bytes that nothing else reads or writes afterwards.
   */
  receive(bytes: Uint8Array, now: Millis): void {
    if (this.#state === 'closed') return;
    this.#lastReceivedAt = now;
    const frames = this.#frames.push(bytes);
    if (!frames.ok) return this.#fail('FrameTooLarge', `a frame of ${frames.error.size} bytes`, now);
    for (const frame of frames.value) {
      if ((this.#state as LinkState) === 'closed') return; // a frame may have closed the link
      if (this.#receive === undefined) this.#handshakeFrame(frame, now);
      else this.#transportFrame(frame, now);
    }
  }

  handleTimeout(now: Millis): void {
    if (this.#state === 'closed') return;
    if (this.#state === 'handshaking' && now >= this.#deadline)
      return this.#fail('HandshakeTimeout', 'handshake stalled', now);
    if (this.#state === 'closing' && now >= this.#deadline) {
      return this.#finishClose(this.#peerClosing, 'closing timed out');
    }
    if (now >= this.#lastReceivedAt + 2 * this.limits.keepaliveMs)
      return this.#fail('IdleTimeout', 'peer silent', now);
    if (
      this.#state === 'established' &&
      now >= this.#lastSentAt + this.limits.keepaliveMs &&
      !this.#pingPending
    ) {
      this.#queuePing();
    }
  }

  /**
   * The next bytes to write, one frame per chunk, in order: handshake messages, then control
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
      out.push(frame);
      size += frame.length;
    }
    if (
      this.#state === 'closing' &&
      !this.#closeSent &&
      this.#queues.totalBytes === 0 &&
      this.#control.length === 0
    ) {
      out.push(this.#encryptFrame(closeRecord(CloseCode[this.#closeCode], this.#closeDetail, true), now));
      this.#closeSent = true;
      if (this.#peerClosing) this.#finishClose(true, this.#peerDetail);
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
    const dead = this.#lastReceivedAt + 2 * this.limits.keepaliveMs;
    // While a PING is out (or queued behind a full socket) only the dead-peer timer runs.
    return (this.#pingPending ? dead : Math.min(this.#lastSentAt + this.limits.keepaliveMs, dead)) as Millis;
  }

  #nextFrame(now: Millis): Uint8Array | undefined {
    const ready = this.#readyFrames.shift();
    if (ready !== undefined) return ready;
    if (this.#send === undefined || this.#state === 'closed' || this.#closeSent) return undefined;
    const control = this.#control.shift();
    if (control !== undefined) return this.#encryptFrame(control, now);
    // No application data before the peer is confirmed (an IK responder waits for its first record).
    if (this.#state !== 'established' && this.#state !== 'closing') return undefined;
    const fragment = this.#queues.nextFragment(this.limits.fragmentBytes);
    if (fragment === undefined) return undefined;
    for (const protocol of fragment.drained) this.#events.push({ type: 'drained', protocol });
    const flags = fragment.final ? FLAG_FINAL : 0;
    return this.#encryptFrame(
      { kind: RecordKind.Data, tag: fragment.protocol, flags, payload: fragment.bytes },
      now,
    );
  }

  /** A whole frame in one buffer (length ‖ record ‖ padding ‖ tag), encrypted in place: one allocation. */
  #encryptFrame(record: LinkRecord, now: Millis): Uint8Array {
    const cipher = this.#send as CipherState;
    const plaintextBytes = recordLength(
      record.payload.length,
      this.limits.paddingBlockBytes,
      RECORD_PLAINTEXT_BYTES_MAX,
    );
    const frame = new Uint8Array(FRAME_HEADER_BYTES + plaintextBytes + TAG_BYTES);
    writeU32BE(frame, 0, plaintextBytes + TAG_BYTES);
    writeRecord(record, frame, FRAME_HEADER_BYTES);
    cipher.encryptInPlace(frame.subarray(FRAME_HEADER_BYTES));
    if (++this.#sentRecords % this.limits.rekeyIntervalMessages === 0) cipher.rekey();
    this.#lastSentAt = now;
    return frame;
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
    this.#readyFrames.push(encodeFrame(concatBytes(prefix, hs.writeMessage(payload)), MAX_FRAME_BYTES));
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
    const checked = remoteStatic
      ? decodeAnnouncement(this.#crypto, bytes, remoteStatic, this.#verified)
      : undefined;
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
    const { send, receive } = hs.split();
    this.#send = send;
    this.#receive = receive;
    this.#handshakeHash = hs.handshakeHash;
    this.#handshake = undefined;
    // An IK first message can be replayed by anyone who saw it: an IK responder believes in its
    // peer only once a record under the new keys arrives, which takes the initiator's live
    // ephemeral key. The initiator sends one (a PING) at once.
    if (this.#pattern === 'IK' && this.role === 'responder') return;
    if (this.#pattern === 'IK') this.#queuePing();
    this.#confirm();
  }

  #confirm(): void {
    this.#state = 'established';
    const nodeId = this.#remoteNodeId as NodeId;
    const announcement = this.#pendingAnnouncement as NodeAnnouncement;
    this.#pendingAnnouncement = undefined;
    this.#events.push({
      type: 'established',
      nodeId,
      announcement,
      handshakeHash: this.#handshakeHash as Uint8Array,
    });
  }

  #queuePing(): void {
    this.#pingPending = true;
    this.#control.push({ kind: RecordKind.Ping, tag: 0, flags: 0, payload: new Uint8Array(PING_BYTES) });
  }

  #transportFrame(frame: Uint8Array, now: Millis): void {
    const cipher = this.#receive as CipherState;
    // A frame that is most of its buffer (the decoder's copy, or most of a socket read) is decrypted
    // over itself; a small one inside a large read gets a buffer of its own, so that a message the
    // application keeps does not pin the whole read.
    const plaintext =
      frame.byteLength * 2 >= frame.buffer.byteLength ? cipher.decryptInPlace(frame) : cipher.decrypt(frame);
    if (!plaintext.ok)
      return this.#fail(
        'DecryptFailed',
        'a frame failed authentication (tampered, replayed or reordered)',
        now,
      );
    if (++this.#receivedRecords % this.limits.rekeyIntervalMessages === 0) cipher.rekey();
    if (this.#state === 'handshaking') this.#confirm(); // an IK responder's first record: the peer is live
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
    this.#peerClosed(tag, flags, closeReasonText(payload), now);
  }

  #dataRecord(protocol: number, flags: number, payload: Uint8Array, now: Millis): void {
    if (protocol === 0) return this.#fail('ProtocolViolation', 'data for protocol 0', now);
    // Senders fill every fragment but the last: tiny or empty fragments would make reassembly
    // hold far more memory than the bytes it counts.
    if ((flags & FLAG_FINAL) === 0 && payload.length !== this.limits.fragmentBytes) {
      return this.#fail('ProtocolViolation', 'a fragment that is neither full nor final', now);
    }
    const partial = this.#partial.get(protocol);
    const bytes = (partial?.bytes ?? 0) + payload.length;
    if (bytes > this.limits.messageBytesMax)
      return this.#fail('MessageTooLarge', `more than ${this.limits.messageBytesMax} bytes`, now);
    if ((flags & FLAG_FINAL) !== 0) {
      this.#partial.delete(protocol);
      // The payload is a view of the record's own bytes (decrypted in place, or into a buffer of
      // its own for a small frame inside a large read): handing it on needs no copy.
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

  /**
   * A CLOSE from the peer. Abrupt (no GRACEFUL flag): the link ends now. Graceful: if we closed first,
   * this is the answer and the link ends; else we send what is queued, answer with our CLOSE, and end.
   */
  #peerClosed(code: number, flags: number, detail: string, now: Millis): void {
    if ((flags & FLAG_GRACEFUL) === 0) {
      this.#shutdown();
      this.#events.push({ type: 'closed', code: closeCodeName(code), detail, byPeer: true });
      return;
    }
    if (this.#closeSent) return this.#finishClose(false, this.#closeDetail);
    this.#peerClosing = true;
    this.#peerDetail = detail;
    if (this.#state !== 'closing') {
      this.#state = 'closing';
      this.#closeCode = closeCodeName(code);
      this.#deadline = now + this.limits.closeTimeoutMs;
    }
  }

  /** Ends the link for a local reason; once established, the peer is told why (best effort). */
  #fail(code: CloseCodeName, detail: string, now: Millis): void {
    const canTell = this.#send !== undefined && this.#state !== 'closed' && !this.#closeSent;
    this.#shutdown();
    if (canTell) this.#readyFrames.push(this.#encryptFrame(closeRecord(CloseCode[code], detail, false), now));
    this.#events.push({ type: 'closed', code, detail, byPeer: false });
  }

  #finishClose(byPeer: boolean, detail: string): void {
    this.#shutdown();
    this.#events.push({ type: 'closed', code: this.#closeCode, detail, byPeer });
  }

  #shutdown(): void {
    this.#state = 'closed';
    this.#handshake = undefined;
    this.#queues.clear();
    this.#control.length = 0;
    this.#partial.clear();
  }
}
