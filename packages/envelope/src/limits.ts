/** Bounds of a sealed envelope, each with its reason. */
export const EnvelopeLimits = {
  /** One envelope travels in one frame (packages/wire: 1 MiB) with room for the carrier's own fields. */
  envelopeBytesMax: 900 * 1024,
  /** The largest body whose padded ciphertext and header still fit in `envelopeBytesMax`. */
  bodyBytesMax: 768 * 1024,
  /** Carriers (replicants, relays) hold an envelope at most this long: 30 days covers a holiday offline. */
  ttlMsMax: 30 * 24 * 60 * 60 * 1000,
  /** Senders' clocks are not ours: a timestamp this far ahead is tolerated, beyond it refused, so no one stretches a TTL. */
  clockSkewMsMax: 10 * 60 * 1000,
  /** The smallest padded size: every short message (most chat) looks the same. */
  paddedBytesMin: 256,
} as const;

export type EnvelopeLimitsConfig = typeof EnvelopeLimits;
