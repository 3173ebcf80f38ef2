import type { CipherState } from './cipher-state.ts';
import type { NoiseKeyPair } from './keys.ts';
import type { NoiseLimits } from './limits.ts';

/** What the handshake expects next: our message, the peer's, nothing more, or nothing ever. */
export type HandshakeStatus = 'write' | 'read' | 'complete' | 'failed';

export interface HandshakeOptions {
  /** `Noise_<pattern>_25519_ChaChaPoly_<SHA256|SHA512|BLAKE2b>`, e.g. 'Noise_XX_25519_ChaChaPoly_BLAKE2b'. */
  readonly protocolName: string;
  readonly initiator: boolean;
  /** Bytes both sides must agree on, bound into the handshake hash (§6). */
  readonly prologue?: Uint8Array | undefined;
  /** Our static key: required exactly when the pattern sends or pre-shares it for this role. */
  readonly staticKeyPair?: NoiseKeyPair | undefined;
  /** The peer's static key, required exactly when the pattern pre-shares it (a 'K': NK, IK, KN…). */
  readonly remoteStaticKey?: Uint8Array | undefined;
  /** One 32-byte key per psk token, in the order the tokens occur (§9). */
  readonly psks?: readonly Uint8Array[] | undefined;
  /** For test vectors only: the ephemeral key to send instead of a fresh one. */
  readonly ephemeralKeyPair?: NoiseKeyPair | undefined;
  /** Bounds for the transport CipherStates that split() returns. */
  readonly limits?: Partial<NoiseLimits> | undefined;
}

/** The result of a handshake (§5.2 Split): one CipherState per direction, and the channel binding. */
export interface TransportCipherStates {
  readonly send: CipherState;
  readonly receive: CipherState;
  /** h at the end of the handshake: identical on both sides, a unique id for the session (§11.2). */
  readonly handshakeHash: Uint8Array;
}
