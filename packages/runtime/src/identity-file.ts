import {
  chmodSync,
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { CryptoProvider } from '@postern/crypto';
import {
  type Identity,
  createIdentity,
  decodeSecretIdentity,
  describeIdentityError,
  encodeSecretIdentity,
  formatIdentityDocument,
} from '@postern/identity';

/**
 * The identity on disk, in the data directory (mode 0700):
 * - identity.secret.json (mode 0600): the secret keys and the last signed document. Never shared.
 * - identity.json: the signed public identity document, to give to contacts.
 * Writes go to a temporary file, are fsynced, then renamed over the old one: a crash leaves the old
 * file or the new one, never half of either.
 */
export const SECRET_FILE = 'identity.secret.json';
export const PUBLIC_FILE = 'identity.json';

export type IdentityFileError =
  | { code: 'IDENTITY_FILE_TOO_OPEN'; path: string; mode: number }
  | { code: 'IDENTITY_FILE_UNREADABLE'; path: string; reason: string }
  | { code: 'IDENTITY_FILE_INVALID'; path: string; reason: string };

export class IdentityFileFailure extends Error {
  override name = 'IdentityFileFailure';
  readonly error: IdentityFileError;

  constructor(error: IdentityFileError) {
    super(describeIdentityFileError(error));
    this.error = error;
  }
}

export interface LoadedIdentity {
  readonly identity: Identity;
  readonly created: boolean;
  readonly secretPath: string;
  readonly publicPath: string;
}

/** Loads the identity of a data directory, creating one labelled `label` on first run. */
export function loadOrCreateIdentity(crypto: CryptoProvider, dataDir: string, label: string): LoadedIdentity {
  const secretPath = join(dataDir, SECRET_FILE);
  const publicPath = join(dataDir, PUBLIC_FILE);
  if (statSync(secretPath, { throwIfNoEntry: false }) === undefined) {
    const identity = createIdentity(crypto, { label });
    saveIdentity(dataDir, identity);
    return { identity, created: true, secretPath, publicPath };
  }
  const identity = loadIdentity(crypto, dataDir);
  // Keep the public document in step with the secret file (it may have been deleted or be stale).
  writeFileAtomic(publicPath, formatIdentityDocument(identity.document), 0o644);
  return { identity, created: false, secretPath, publicPath };
}

export function loadIdentity(crypto: CryptoProvider, dataDir: string): Identity {
  const path = join(dataDir, SECRET_FILE);
  let text: string;
  let mode: number;
  try {
    mode = statSync(path).mode & 0o777;
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new IdentityFileFailure({
      code: 'IDENTITY_FILE_UNREADABLE',
      path,
      reason: (cause as Error).message,
    });
  }
  if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
    throw new IdentityFileFailure({ code: 'IDENTITY_FILE_TOO_OPEN', path, mode });
  }
  const identity = decodeSecretIdentity(crypto, text);
  if (!identity.ok) {
    throw new IdentityFileFailure({
      code: 'IDENTITY_FILE_INVALID',
      path,
      reason: describeIdentityError(identity.error),
    });
  }
  return identity.value;
}

/** Writes both files; the secret one readable by its owner only. */
export function saveIdentity(dataDir: string, identity: Identity): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  writeFileAtomic(join(dataDir, SECRET_FILE), encodeSecretIdentity(identity), 0o600);
  writeFileAtomic(join(dataDir, PUBLIC_FILE), formatIdentityDocument(identity.document), 0o644);
}

function writeFileAtomic(path: string, text: string, mode: number): void {
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const fd = openSync(temporary, 'w', mode);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  chmodSync(temporary, mode); // the umask may have narrowed or the file pre-existed with other bits
  renameSync(temporary, path);
}

export function describeIdentityFileError(error: IdentityFileError): string {
  switch (error.code) {
    case 'IDENTITY_FILE_TOO_OPEN':
      return `${error.path} can be read by other users (mode ${error.mode.toString(8)}): run \`chmod 600 ${error.path}\`, and if others may have copied it, create a new identity`;
    case 'IDENTITY_FILE_UNREADABLE':
      return `cannot read ${error.path}: ${error.reason}`;
    case 'IDENTITY_FILE_INVALID':
      return `${error.path} is damaged: ${error.reason} — restore it from a backup, or move it away to create a new identity`;
  }
}
