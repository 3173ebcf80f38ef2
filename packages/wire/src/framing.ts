import { assert, err, ok, UsageError, readU32BE, writeU32BE, type Result } from '@postern/core';
import { checkLimit, DEFAULT_MAX_FRAME_BYTES, MAX_FRAME_BYTES_CEILING } from './limits.ts';
import type { FrameError } from './types.ts';

// A frame is a 4-byte big-endian payload length, then the payload. Nothing else: no type, no
// checksum (the transport's AEAD authenticates), no padding.

export const FRAME_HEADER_BYTES = 4;

/** Prefixes a payload with its length. Throws UsageError 'WIRE_FRAME_TOO_LARGE' above the maximum. */
export function encodeFrame(
  payload: Uint8Array,
  maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES,
): Uint8Array {
  checkLimit('maxFrameBytes', maxFrameBytes, MAX_FRAME_BYTES_CEILING);
  if (payload.length > maxFrameBytes) {
    throw new UsageError(
      'WIRE_FRAME_TOO_LARGE',
      `a ${payload.length}-byte payload exceeds the ${maxFrameBytes}-byte frame limit`,
    );
  }
  const frame = new Uint8Array(FRAME_HEADER_BYTES + payload.length);
  writeU32BE(frame, 0, payload.length);
  frame.set(payload, FRAME_HEADER_BYTES);
  return frame;
}

/** Frames up to this size get their whole buffer when the header arrives. */
const EAGER_ALLOCATION_BYTES = 65_536 + 1;

/**
 * Splits a byte stream into frames, sans-I/O: push whatever bytes arrived, get back the frames they
 * complete. Chunks may split anywhere, the header included. A length above the maximum fails the
 * decoder at once, before any of that payload is buffered, and every later push returns the same
 * error (the stream cannot be resynchronised: close it). Frames completed earlier in the failing
 * chunk are dropped with it. At most header + maxFrameBytes are ever buffered, and each byte is
 * copied a bounded number of times (the payload buffer grows by doubling), whatever the chunking.
 */
export class FrameDecoder {
  private readonly maxFrameBytes: number;
  private readonly header = new Uint8Array(FRAME_HEADER_BYTES);
  private headerFilled = 0;
  private payloadLength = -1; // -1 while the header is incomplete
  private payload: Uint8Array = new Uint8Array(0); // capacity grows towards payloadLength as bytes arrive
  private payloadFilled = 0;
  private failure: FrameError | undefined;
  private readonly shareChunks: boolean;

  /**
   * `shareChunks`: a frame that lies whole inside one pushed chunk is returned as a view of that
   * chunk, not a copy. Only for callers that never modify a chunk after pushing it (socket reads
   * are fresh buffers): it saves a copy of every frame on the receive path.
   */
  constructor(opts?: { maxFrameBytes?: number; shareChunks?: boolean }) {
    this.maxFrameBytes = opts?.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.shareChunks = opts?.shareChunks ?? false;
    checkLimit('maxFrameBytes', this.maxFrameBytes, MAX_FRAME_BYTES_CEILING);
  }

  /** Bytes of an incomplete frame held between pushes: never more than header + maxFrameBytes. */
  get bufferedBytes(): number {
    return this.headerFilled + this.payloadFilled;
  }

  push(chunk: Uint8Array): Result<Uint8Array[], FrameError> {
    if (this.failure !== undefined) return err(this.failure);
    const frames: Uint8Array[] = [];
    let pos = 0;
    while (pos < chunk.length) {
      if (this.payloadLength < 0) {
        pos = this.readHeader(chunk, pos);
        if (this.failure !== undefined) return err(this.failure);
      } else {
        pos = this.readPayload(chunk, pos);
      }
      if (this.payloadLength >= 0 && this.payloadFilled === this.payloadLength) frames.push(this.takeFrame());
    }
    return ok(frames);
  }

  private readHeader(chunk: Uint8Array, pos: number): number {
    const take = Math.min(FRAME_HEADER_BYTES - this.headerFilled, chunk.length - pos);
    this.header.set(chunk.subarray(pos, pos + take), this.headerFilled);
    this.headerFilled += take;
    if (this.headerFilled < FRAME_HEADER_BYTES) return pos + take;
    const length = readU32BE(this.header, 0);
    if (length > this.maxFrameBytes)
      this.fail({ code: 'WIRE_FRAME_TOO_LARGE', size: length, max: this.maxFrameBytes });
    else this.payloadLength = length;
    return pos + take;
  }

  private readPayload(chunk: Uint8Array, pos: number): number {
    if (this.shareChunks && this.payloadFilled === 0 && chunk.length - pos >= this.payloadLength) {
      this.payload = chunk.subarray(pos, pos + this.payloadLength);
      this.payloadFilled = this.payloadLength;
      return pos + this.payloadLength;
    }
    const take = Math.min(this.payloadLength - this.payloadFilled, chunk.length - pos);
    this.reserve(this.payloadFilled + take);
    this.payload.set(chunk.subarray(pos, pos + take), this.payloadFilled);
    this.payloadFilled += take;
    return pos + take;
  }

  /**
   * Grows the payload buffer by doubling, capped at the declared length: memory follows the bytes
   * received. A frame of up to 64 KiB gets its whole buffer at once: small enough to trust the header.
   */
  private reserve(needed: number): void {
    if (needed <= this.payload.length) return;
    const eager = this.payloadLength <= EAGER_ALLOCATION_BYTES ? this.payloadLength : 0;
    const capacity = Math.min(this.payloadLength, Math.max(needed, eager, this.payload.length * 2, 256));
    const grown = new Uint8Array(capacity);
    grown.set(this.payload.subarray(0, this.payloadFilled));
    this.payload = grown;
  }

  private takeFrame(): Uint8Array {
    const frame = this.payload;
    assert(frame.length === this.payloadLength, 'reserve() grows the buffer to exactly the payload length');
    this.headerFilled = 0;
    this.payloadLength = -1;
    this.payload = new Uint8Array(0);
    this.payloadFilled = 0;
    return frame;
  }

  private fail(error: FrameError): void {
    this.failure = error;
    this.headerFilled = 0;
    this.payload = new Uint8Array(0);
    this.payloadFilled = 0;
  }
}
