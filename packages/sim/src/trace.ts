/**
 * A running 64-bit hash of the event trace, for `--check-determinism`: two 32-bit lanes (FNV-1a and
 * a multiply–rotate mix) over 32-bit words. Fast and not cryptographic: it tells two runs apart, it
 * does not resist an adversary.
 */
export class TraceHash {
  #a = 0x811c9dc5;
  #b = 0x1b873593;
  readonly #float = new Float64Array(1);
  readonly #words = new Uint32Array(this.#float.buffer);

  /** Adds a 32-bit integer (higher bits are dropped). */
  word(x: number): void {
    this.#a = Math.imul(this.#a ^ x, 0x01000193);
    const b = this.#b ^ Math.imul(x, 0xcc9e2d51);
    this.#b = Math.imul((b << 13) | (b >>> 19), 5) + 0xe6546b64;
  }

  /** Adds a number exactly (its 64 bits), e.g. a virtual time. */
  number(x: number): void {
    this.#float[0] = x;
    this.word(this.#words[0] as number);
    this.word(this.#words[1] as number);
  }

  bytes(bytes: Uint8Array): void {
    const n = bytes.length;
    let i = 0;
    for (; i + 4 <= n; i += 4) {
      this.word(
        (bytes[i] as number) |
          ((bytes[i + 1] as number) << 8) |
          ((bytes[i + 2] as number) << 16) |
          ((bytes[i + 3] as number) << 24),
      );
    }
    let tail = n;
    for (; i < n; i++) tail = (tail << 8) | (bytes[i] as number);
    this.word(tail);
  }

  /** 16 hex digits. */
  hex(): string {
    return hex32(this.#a) + hex32(this.#b);
  }
}

function hex32(x: number): string {
  return (x >>> 0).toString(16).padStart(8, '0');
}
