/**
 * Result: how bad input is reported. Input from the network, a file or a person is never answered
 * with an exception; a decoder or validator returns `{ ok: false, error }` with a typed error.
 */
export type Result<T, E> = Ok<T> | Err<E>;
export interface Ok<T> {
  readonly ok: true;
  readonly value: T;
}
export interface Err<E> {
  readonly ok: false;
  readonly error: E;
}

export function ok<T>(value: T): Ok<T> {
  return { ok: true, value };
}

export function err<E>(error: E): Err<E> {
  return { ok: false, error };
}

/** The value of a Result that the caller has proven ok; a failure here is our own bug. */
export function unwrap<T, E>(result: Result<T, E>): T {
  if (result.ok) return result.value;
  throw new AssertionError(`unwrap of a failed result: ${describeError(result.error)}`);
}

/** Applies `f` to an ok value; passes an error through unchanged. */
export function mapResult<T, U, E>(result: Result<T, E>, f: (value: T) => U): Result<U, E> {
  return result.ok ? ok(f(result.value)) : result;
}

function describeError(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'code' in error) return String(error.code);
  return String(error);
}

/** Thrown by `assert` and `unwrap`: a broken invariant, i.e. a bug in Postern. Never caught. */
export class AssertionError extends Error {
  override name = 'AssertionError';
}
