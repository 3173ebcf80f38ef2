// noise-handshake@4.2.0 (Holepunch) ships no types: these are the parts the cross-implementation test
// uses. It is CommonJS; Node's ESM loader exposes module.exports as the default export.
declare module 'noise-handshake' {
  interface KeyPair {
    publicKey: Buffer;
    secretKey: Buffer;
  }
  class NoiseState {
    constructor(pattern: string, initiator: boolean, staticKeypair?: KeyPair, opts?: { psk?: Buffer });
    s: KeyPair;
    /** Protocol name it hashes: always Noise_<pattern>_25519_ChaChaPoly_BLAKE2b. */
    protocol: Buffer;
    complete: boolean;
    /** After completion: the key this side sends with (despite the README's wording), and receives with. */
    tx: Buffer | null;
    rx: Buffer | null;
    rs: Buffer | null;
    hash: Buffer | null;
    initialise(prologue: Buffer, remoteStatic?: Buffer): void;
    send(payload?: Buffer): Buffer;
    /** Throws when a tag does not verify. */
    recv(message: Buffer): Buffer;
  }
  export = NoiseState;
}

declare module 'noise-handshake/cipher' {
  /** ChaChaPoly with a counter nonce from 0; decrypt throws on a bad tag. No rekey. */
  class CipherState {
    constructor(key: Buffer);
    nonce: number;
    encrypt(plaintext: Buffer, ad?: Buffer): Buffer;
    decrypt(ciphertext: Buffer, ad?: Buffer): Buffer;
  }
  export = CipherState;
}
