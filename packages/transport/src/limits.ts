/** Bounds of a link, each with its reason. */
export interface LinkLimits {
  /** A handshake is three messages; a peer that has not finished in this time is stalling. */
  readonly handshakeTimeoutMs: number;
  /** A graceful close waits this long for queued messages to go out and the peer's CLOSE to come back. */
  readonly closeTimeoutMs: number;
  /** With no traffic for this long a ping goes out; with none for twice this long the link is dead. */
  readonly keepaliveMs: number;
  /** The largest application message (reassembled from fragments); one envelope fits with room. */
  readonly messageBytesMax: number;
  /** Bytes a protocol may have queued for sending before `send` answers LINK_QUEUE_FULL. */
  readonly queueBytesPerProtocolMax: number;
  /** Distinct protocols a peer may have partial messages for at once: bounds reassembly buffers. */
  readonly reassemblyProtocolsMax: number;
  /** Plaintext is padded to a multiple of this, so record sizes leak less of message sizes. */
  readonly paddingBlockBytes: number;
  /** Payload bytes of every DATA fragment but a message's last. Part of the protocol: both ends must agree. */
  readonly fragmentBytes: number;
  /** Messages on one key before the link rekeys both directions (Noise §11.3). */
  readonly rekeyIntervalMessages: number;
}

export const DEFAULT_LINK_LIMITS: LinkLimits = {
  handshakeTimeoutMs: 10_000,
  closeTimeoutMs: 10_000,
  keepaliveMs: 30_000,
  messageBytesMax: 1024 * 1024,
  queueBytesPerProtocolMax: 4 * 1024 * 1024,
  reassemblyProtocolsMax: 64,
  paddingBlockBytes: 64,
  rekeyIntervalMessages: 1_000_000,
  fragmentBytes: 65_535 - 16 - 6, // a full Noise message less its tag and the record header
};

/** Noise limits every message to 65,535 bytes (§3); a record is that minus the 16-byte tag. */
export const NOISE_MESSAGE_BYTES_MAX = 65_535;
export const RECORD_PLAINTEXT_BYTES_MAX = NOISE_MESSAGE_BYTES_MAX - 16;
/** The node announcement rides in a handshake message, so it is small. */
export const ANNOUNCEMENT_BYTES_MAX = 4096;
