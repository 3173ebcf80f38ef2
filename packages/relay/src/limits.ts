import { UsageError } from '@postern/core';

/** Bounds of the relay protocol and server, each with its reason. */
export interface RelayLimits {
  /** A record's content: one sealed envelope (packages/envelope allows 900 KiB) fits. */
  readonly contentBytesMax: number;
  /** One message on the wire, JSON included (base64url adds a third): a full record and its fields. */
  readonly messageBytesMax: number;
  /** A record's tag: a short label ("msg", "ack"), not a place for content. */
  readonly tagBytesMax: number;
  /** A path: three base64url segments and two slashes, with room to spare. */
  readonly pathBytesMax: number;
  /** The longest TTL a relay accepts: 30 days, as for envelopes. */
  readonly ttlMsMax: number;
  /**
   * A request's timestamp may differ from the relay's clock by this much either way. Nonces are
   * remembered for twice this, so a replay is refused either as stale or as seen.
   */
  readonly clockSkewMs: number;
  /** Reads of one record before the relay refuses it: the sender's bandwidth bound (seed 003). */
  readonly pullsPerRecordMax: number;
  /** Paths in one inventory answer or one listen push: a client pages through more. */
  readonly pathsPerAnswerMax: number;
  /**
   * Listings (inventory, usage) stop this far short of the relay's clock: a record stored that
   * recently may still be committing through another process, and a page that went past it would
   * let a client page beyond a record it never saw.
   */
  readonly listingSettleMs: number;
  /** Usage entries in one usage report: the client pages through more. */
  readonly usagePerAnswerMax: number;
  /** Usage entries are kept this long: a billing period and then some. */
  readonly usageRetentionMs: number;
  /** Requests of one connection being worked on at once; more are answered "busy". */
  readonly requestsInFlightPerConnectionMax: number;
  /** Paths remembered per listening connection as already pushed; the oldest are forgotten. */
  readonly pushedPathsPerConnectionMax: number;
  /**
   * Connections listening for one receiver at once: a user's devices. Each is pushed (and signed
   * for) separately, so more would let one key multiply the relay's work per record.
   */
  readonly listenersPerReceiverMax: number;
  /** Records an account may hold at once, unless its own quota says otherwise. */
  readonly accountRecordsMax: number;
  /** Bytes of content an account may hold at once, unless its own quota says otherwise. */
  readonly accountBytesMax: number;
}

export const DEFAULT_RELAY_LIMITS: RelayLimits = {
  contentBytesMax: 900 * 1024,
  messageBytesMax: 1300 * 1024,
  tagBytesMax: 64,
  pathBytesMax: 128,
  ttlMsMax: 30 * 24 * 60 * 60 * 1000,
  clockSkewMs: 5 * 60 * 1000,
  pullsPerRecordMax: 8,
  pathsPerAnswerMax: 1000,
  listingSettleMs: 2000,
  usagePerAnswerMax: 1000,
  usageRetentionMs: 62 * 24 * 60 * 60 * 1000,
  requestsInFlightPerConnectionMax: 256,
  pushedPathsPerConnectionMax: 8192,
  listenersPerReceiverMax: 16,
  accountRecordsMax: 100_000,
  accountBytesMax: 1024 * 1024 * 1024,
};

export function relayLimits(overrides: Partial<RelayLimits> = {}): RelayLimits {
  const limits = { ...DEFAULT_RELAY_LIMITS, ...overrides };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new UsageError('RELAY_BAD_LIMIT', `relay limit ${name} must be a positive integer, got ${value}`);
    }
  }
  return limits;
}
