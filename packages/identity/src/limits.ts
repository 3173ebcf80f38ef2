/** Bounds of an identity document, each with its reason. */
export const IdentityLimits = {
  /** A name a person reads in a contact list; long enough for any real name, short enough to display. */
  labelCharsMax: 64,
  /** A user contracts a few relays (seed 003); more only costs every sender more pulls. */
  relaysMax: 8,
  /** A relay address is a URL or host:port; 256 bytes covers onion v3 addresses with room to spare. */
  relayBytesMax: 256,
  /** Replicants hold a user's mail while offline; beyond 8 the extra copies add load, not reliability. */
  replicantsMax: 8,
  /** The JSON document a person pastes or scans, and the DHT record: far above a full document (~2 KiB). */
  documentBytesMax: 16 * 1024,
} as const;
