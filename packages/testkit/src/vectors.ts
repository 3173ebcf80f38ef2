// Test vectors from public sources live in ../shared/vectors beside the project (POSTERN_VECTORS_DIR
// overrides). A vector test must fail when its file is missing or empty: it never passes on zero vectors.
import { readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

const projectRoot = resolve(new URL('.', import.meta.url).pathname, '../../..');

export function vectorsDir(): string {
  return process.env['POSTERN_VECTORS_DIR'] ?? resolve(projectRoot, '..', 'shared', 'vectors');
}

/** The bytes of a vector file; throws (failing the test) if it is missing or empty. */
export function readVectorFile(relativePath: string): string {
  const path = join(vectorsDir(), relativePath);
  const size = statSync(path, { throwIfNoEntry: false })?.size;
  if (size === undefined) throw new Error(`vector file missing: ${path}`);
  if (size === 0) throw new Error(`vector file empty: ${path}`);
  return readFileSync(path, 'utf8');
}

export function readVectorJson<T>(relativePath: string): T {
  return JSON.parse(readVectorFile(relativePath)) as T;
}
