/**
 * A secret key that does not print itself: console.log, util.inspect, JSON.stringify and string
 * templates all show a placeholder. Code that needs the bytes calls `expose()`, which is easy to find
 * in a review.
 */
export class SecretKey {
  readonly #bytes: Uint8Array;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
  }

  expose(): Uint8Array {
    return this.#bytes;
  }

  get length(): number {
    return this.#bytes.length;
  }

  toString(): string {
    return '[secret key]';
  }

  toJSON(): string {
    return '[secret key]';
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return 'SecretKey [redacted]';
  }
}
