export { type NodeKeys, type X25519KeyPair, createNodeKeys, nodeIdOf } from './node-keys.ts';
export {
  type NodeAnnouncement,
  type AnnouncementError,
  LINK_PROTOCOL_VERSION,
  signAnnouncement,
  encodeAnnouncement,
  decodeAnnouncement,
  VerifiedAnnouncements,
} from './announcement.ts';
export {
  Link,
  type LinkEvent,
  type LinkOptions,
  type LinkState,
  type LinkSendError,
  type HandshakePattern,
} from './link.ts';
export { CloseCode, type CloseCodeName, closeCodeName } from './close.ts';
export { type LinkLimits, DEFAULT_LINK_LIMITS, NOISE_MESSAGE_BYTES_MAX } from './limits.ts';
