import { UsageError } from '@postern/core';

/** Bounds of the Replicant protocol machine, each with its reason. */
export interface ReplicantLimits {
  /** Contacts a node keeps: a large address book; each costs ~2 KiB (document, reach, tickets). */
  readonly contactsMax: number;
  /** Envelopes a replicant holds for one user: a week of a busy chat while the user is away. */
  readonly heldEnvelopesPerUserMax: number;
  /** Bytes a replicant holds for one user: a phone's worth of photos, not a backup service. */
  readonly heldBytesPerUserMax: number;
  /** Users one node serves as replicant at once: a family and close friends. */
  readonly dutiesMax: number;
  /**
   * A replicant keeps an envelope at most this long after it was sealed, whatever its TTL: a user
   * away longer than a week uses relays (seed 003) for the rest.
   */
  readonly heldTtlMsMax: number;
  /** Messages a sender keeps in its outbox until they are delivered or expire. */
  readonly outboxMax: number;
  /** Finished (delivered or expired) outbox entries kept for the user to see, newest first. */
  readonly outboxFinishedMax: number;
  /** Messages kept in the inbox; a full inbox refuses new ones (they stay with their senders). */
  readonly inboxMax: number;
  /** Bytes of content kept in the inbox (it is in memory too): the application deletes what it has read. */
  readonly inboxBytesMax: number;
  /**
   * Inbox messages from senders who are not contacts: a stranger may write first, but strangers
   * together cannot fill the inbox (a user's replicants accept envelopes from anyone).
   */
  readonly strangerMessagesMax: number;
  /**
   * Envelope ids remembered for deduplication until their envelope expires: a full set refuses new
   * envelopes rather than risk delivering one twice.
   */
  readonly seenMax: number;
  /** Signed receipts waiting to reach their senders. The oldest beyond this are dropped, with an event. */
  readonly pendingReceiptsMax: number;
  /** Nominations waiting for this user's answer: more is someone flooding requests. */
  readonly nominationRequestsMax: number;
  /**
   * Requests of ours awaiting an answer, all kinds together: room for a presence to every contact at
   * once. A request that finds no room is tried again after `rpcTimeoutMs`.
   */
  readonly rpcsInFlightMax: number;
  /** A request unanswered after this long has failed: the peer is offline or unreachable. */
  readonly rpcTimeoutMs: number;
  /** Retries of undelivered work back off from this ... */
  readonly retryMinMs: number;
  /** ... doubling up to this: an offline peer costs one try per half hour. */
  readonly retryMaxMs: number;
  /** Envelopes sent to one peer at once while delivering held mail: more wait for answers. */
  readonly deliveryWindow: number;
  /** Receipts sent to a sender in one message. */
  readonly receiptsPerMessageMax: number;
}

export const DEFAULT_REPLICANT_LIMITS: ReplicantLimits = {
  contactsMax: 5_000,
  heldEnvelopesPerUserMax: 2_000,
  heldBytesPerUserMax: 64 * 1024 * 1024,
  dutiesMax: 32,
  heldTtlMsMax: 7 * 24 * 3_600_000,
  outboxMax: 10_000,
  outboxFinishedMax: 1_000,
  inboxMax: 100_000,
  inboxBytesMax: 256 * 1024 * 1024,
  strangerMessagesMax: 100,
  seenMax: 200_000,
  pendingReceiptsMax: 10_000,
  nominationRequestsMax: 64,
  rpcsInFlightMax: 8_192,
  rpcTimeoutMs: 10_000,
  retryMinMs: 30_000,
  retryMaxMs: 30 * 60_000,
  deliveryWindow: 32,
  receiptsPerMessageMax: 64,
};

export function resolveReplicantLimits(overrides: Partial<ReplicantLimits> = {}): ReplicantLimits {
  const limits = { ...DEFAULT_REPLICANT_LIMITS, ...overrides };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new UsageError(
        'REPLICANT_BAD_LIMIT',
        `replicant limit ${name} must be a positive integer, got ${value}`,
      );
    }
  }
  if (limits.retryMaxMs < limits.retryMinMs) {
    throw new UsageError('REPLICANT_BAD_LIMIT', 'retryMaxMs must be at least retryMinMs');
  }
  return limits;
}
