import { err, ok, UsageError, type Result } from '@postern/core';
import type { CryptoProvider } from '@postern/crypto';
import type { NoiseError } from './errors.ts';
import { KEY_BYTES, NOISE_MESSAGE_BYTES_MAX, PLAINTEXT_BYTES_MAX, TAG_BYTES } from './limits.ts';

const EMPTY = new Uint8Array(0);

/** §12.3: ChaChaPoly's 96-bit nonce is 32 zero bits, then the 64-bit counter little-endian. */
export function chachaNonce(n: number): Uint8Array {
  const nonce = new Uint8Array(12);
  const low = n >>> 0; // n mod 2^32: exact for every safe integer
  const high = Math.floor(n / 2 ** 32);
  for (let i = 0; i < 4; i++) {
    nonce[4 + i] = (low >>> (8 * i)) & 0xff;
    nonce[8 + i] = (high >>> (8 * i)) & 0xff;
  }
  return nonce;
}

/** §4.2: REKEY(k) = the first 32 bytes of ENCRYPT(k, maxnonce = 2^64 − 1, zerolen, 32 zero bytes). */
const MAX_NONCE = Uint8Array.of(0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff);

export function rekeyed(crypto: CryptoProvider, key: Uint8Array): Uint8Array {
  return crypto.chacha20poly1305Encrypt(key, MAX_NONCE, new Uint8Array(KEY_BYTES), EMPTY).slice(0, KEY_BYTES);
}

/**
 * One direction of a transport session (§5.1), as `split()` hands it out. A message is at most 65535
 * bytes (§3) on both sides; nonces count up from 0 and stop at `messagesPerKeyMax`. A failed decrypt
 * leaves the nonce where it was (§5.1), so a forged message cannot desynchronise the session.
 */
export class CipherState {
  private readonly crypto: CryptoProvider;
  private key: Uint8Array;
  private n = 0;
  private readonly messagesPerKeyMax: number;
  /** Set on the direction a one-way pattern never uses (§7.4): every call refuses. */
  private readonly unused: boolean;

  /** Created by HandshakeState.split(); the key is never exposed. */
  constructor(
    crypto: CryptoProvider,
    key: Uint8Array,
    options: { messagesPerKeyMax: number; unused: boolean },
  ) {
    this.crypto = crypto;
    this.key = key;
    this.messagesPerKeyMax = options.messagesPerKeyMax;
    this.unused = options.unused;
  }

  /** The next message's nonce: how many messages this direction has carried. */
  get nonce(): number {
    return this.n;
  }

  /**
   * Encrypts one transport message. Throws UsageError 'NOISE_PAYLOAD_TOO_LARGE' above 65519 bytes,
   * 'NOISE_NONCE_EXHAUSTED' once the limit is reached, 'NOISE_ONE_WAY' on a one-way pattern's unused
   * direction.
   */
  encrypt(plaintext: Uint8Array, ad: Uint8Array = EMPTY): Uint8Array {
    this.checkEncrypt(plaintext.length);
    const ciphertext = this.crypto.chacha20poly1305Encrypt(this.key, chachaNonce(this.n), plaintext, ad);
    this.n += 1;
    return ciphertext;
  }

  /**
   * `encrypt` without allocating: `buffer` holds the plaintext then 16 spare bytes for the tag, and
   * afterwards the transport message. Throws as `encrypt` does.
   */
  encryptInPlace(buffer: Uint8Array, ad: Uint8Array = EMPTY): void {
    if (buffer.length < TAG_BYTES) {
      throw new UsageError(
        'NOISE_NO_ROOM_FOR_TAG',
        `an in-place buffer needs ${TAG_BYTES} bytes for the tag`,
      );
    }
    this.checkEncrypt(buffer.length - TAG_BYTES);
    this.crypto.chacha20poly1305EncryptInPlace(this.key, chachaNonce(this.n), buffer, ad);
    this.n += 1;
  }

  private checkEncrypt(plaintextBytes: number): void {
    if (this.unused) throw oneWayMisuse();
    if (plaintextBytes > PLAINTEXT_BYTES_MAX) {
      throw new UsageError(
        'NOISE_PAYLOAD_TOO_LARGE',
        `a ${plaintextBytes}-byte plaintext exceeds the ${PLAINTEXT_BYTES_MAX} bytes a Noise message can carry`,
      );
    }
    if (this.n >= this.messagesPerKeyMax) {
      throw new UsageError(
        'NOISE_NONCE_EXHAUSTED',
        `this CipherState has sent its ${this.messagesPerKeyMax} messages: run a new handshake`,
      );
    }
  }

  /** Decrypts one transport message; any bytes give a Result, and only success advances the nonce. */
  decrypt(ciphertext: Uint8Array, ad: Uint8Array = EMPTY): Result<Uint8Array, NoiseError> {
    const refused = this.checkDecrypt(ciphertext.length);
    if (refused !== undefined) return err(refused);
    const opened = this.crypto.chacha20poly1305Decrypt(this.key, chachaNonce(this.n), ciphertext, ad);
    if (!opened.ok) return err({ code: 'NOISE_DECRYPT_FAILED' });
    this.n += 1;
    return ok(opened.value);
  }

  /**
   * `decrypt` over the message's own bytes: on success the plaintext is a view of `buffer`; on any
   * failure the nonce stays, but the buffer's contents are lost (a failed link is closed anyway).
   */
  decryptInPlace(buffer: Uint8Array, ad: Uint8Array = EMPTY): Result<Uint8Array, NoiseError> {
    const refused = this.checkDecrypt(buffer.length);
    if (refused !== undefined) return err(refused);
    const opened = this.crypto.chacha20poly1305DecryptInPlace(this.key, chachaNonce(this.n), buffer, ad);
    if (!opened.ok) return err({ code: 'NOISE_DECRYPT_FAILED' });
    this.n += 1;
    return ok(opened.value);
  }

  private checkDecrypt(length: number): NoiseError | undefined {
    if (this.unused) return { code: 'NOISE_ONE_WAY' };
    if (length > NOISE_MESSAGE_BYTES_MAX) {
      return { code: 'NOISE_MESSAGE_TOO_LARGE', lengthBytes: length, maxBytes: NOISE_MESSAGE_BYTES_MAX };
    }
    if (length < TAG_BYTES) return { code: 'NOISE_TRUNCATED', lengthBytes: length, minBytes: TAG_BYTES };
    if (this.n >= this.messagesPerKeyMax) return { code: 'NOISE_NONCE_EXHAUSTED' };
    return undefined;
  }

  /**
   * §11.3: replaces the key with REKEY(k); the nonce carries on. Both sides must rekey at the same
   * point of the message stream, as the application protocol decides.
   */
  rekey(): void {
    if (this.unused) throw oneWayMisuse();
    this.key = rekeyed(this.crypto, this.key);
  }
}

function oneWayMisuse(): UsageError {
  return new UsageError(
    'NOISE_ONE_WAY',
    'a one-way pattern (§7.4) carries transport messages from initiator to responder only',
  );
}
