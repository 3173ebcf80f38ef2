import { AssertionError } from './result.ts';

/**
 * Checks an invariant of our own code. A false condition is a Postern bug: it throws and is never
 * caught. Do not use it for input from the network or a person (that is a Result) or for caller
 * misuse (that is a UsageError).
 */
export function assert(condition: unknown, what: string): asserts condition {
  if (!condition) throw new AssertionError(`assertion failed: ${what}`);
}

/** Marks a branch the type system proves unreachable. */
export function assertNever(value: never, what: string): never {
  throw new AssertionError(`unreachable: ${what}: ${JSON.stringify(value)}`);
}

/**
 * Thrown when a caller misuses an API (a key of the wrong length, a negative TTL, a command in the
 * wrong state). `code` is stable and prefixed per package, e.g. 'CRYPTO_BAD_KEY_LENGTH'.
 */
export class UsageError extends Error {
  override name = 'UsageError';
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
