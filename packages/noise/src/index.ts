export { createHandshake, type HandshakeState } from './handshake.ts';
export type { HandshakeOptions, HandshakeStatus, TransportCipherStates } from './types.ts';
export type { CipherState } from './cipher-state.ts';
export type { NoiseError, NoiseErrorCode } from './errors.ts';
export { generateKeyPair, keyPairFromSecret, type NoiseKeyPair } from './keys.ts';
export {
  DEFAULT_NOISE_LIMITS,
  NOISE_MESSAGE_BYTES_MAX,
  PLAINTEXT_BYTES_MAX,
  type NoiseLimits,
} from './limits.ts';
export { patternNames } from './patterns.ts';
