import { randomBytes } from 'node:crypto';
import {
  closeSync,
  constants,
  fchmodSync,
  fstatSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
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
 * The identity on disk, in the data directory:
 * - identity.secret.json (mode 0600): the secret keys and the last signed document. Never shared.
 * - identity.json: the signed public identity document, to give to contacts.
 * Every write goes to a fresh temporary file (created exclusively, never through a symlink), is
 * fsynced, then renamed into place and the directory fsynced: a crash leaves the old file or the new
 * one, never half of either. The first identity is linked into place, so two first runs at once
 * cannot overwrite each other's keys.
 */
export const SECRET_FILE = 'identity.secret.json';
export const PUBLIC_FILE = 'identity.json';
/** Far above a real secret file (~1 KiB); refuses to read a huge file into memory. */
const SECRET_FILE_BYTES_MAX = 64 * 1024;
const isPosix = process.platform !== 'win32';

export type IdentityFileError =
  | { code: 'IDENTITY_FILE_TOO_OPEN'; path: string; mode: number }
  | { code: 'IDENTITY_FILE_NOT_OURS'; path: string }
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
  let created = false;
  if (statSync(secretPath, { throwIfNoEntry: false }) === undefined) {
    const text = encodeSecretIdentity(createIdentity(crypto, { label })); // a bad label fails before any write
    prepareDataDir(dataDir);
    created = writeFileExclusive(secretPath, text, 0o600);
  }
  // Loading what is on disk (ours, or a concurrent first run's) checks it like any other load.
  const identity = loadIdentity(crypto, dataDir);
  writeFileAtomic(publicPath, formatIdentityDocument(identity.document), 0o644);
  return { identity, created, secretPath, publicPath };
}

export function loadIdentity(crypto: CryptoProvider, dataDir: string): Identity {
  const path = join(dataDir, SECRET_FILE);
  const text = readPrivateFile(path);
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

/** Writes both files (after a profile change, say); the secret one readable by its owner only. */
export function saveIdentity(dataDir: string, identity: Identity): void {
  prepareDataDir(dataDir);
  writeFileAtomic(join(dataDir, SECRET_FILE), encodeSecretIdentity(identity), 0o600);
  writeFileAtomic(join(dataDir, PUBLIC_FILE), formatIdentityDocument(identity.document), 0o644);
}

/** Reads through one descriptor (no symlink), checking owner, mode and size on that same file. */
function readPrivateFile(path: string): string {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0));
  } catch (cause) {
    throw new IdentityFileFailure({
      code: 'IDENTITY_FILE_UNREADABLE',
      path,
      reason: (cause as Error).message,
    });
  }
  try {
    const stat = fstatSync(fd);
    if (isPosix && (stat.mode & 0o077) !== 0) {
      throw new IdentityFileFailure({ code: 'IDENTITY_FILE_TOO_OPEN', path, mode: stat.mode & 0o777 });
    }
    if (isPosix && stat.uid !== process.getuid?.())
      throw new IdentityFileFailure({ code: 'IDENTITY_FILE_NOT_OURS', path });
    if (stat.size > SECRET_FILE_BYTES_MAX) {
      throw new IdentityFileFailure({
        code: 'IDENTITY_FILE_INVALID',
        path,
        reason: `it is ${stat.size} bytes, far too large`,
      });
    }
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

/** Creates the directory (0700) if needed; refuses one that other users could write into. */
function prepareDataDir(dataDir: string): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const stat = statSync(dataDir);
  if (isPosix && (stat.mode & 0o022) !== 0) {
    throw new IdentityFileFailure({ code: 'IDENTITY_FILE_TOO_OPEN', path: dataDir, mode: stat.mode & 0o777 });
  }
}

/** Writes a fresh temporary file beside `path`: exclusive, no symlink, the mode set before any byte. */
function writeTemporary(path: string, text: string, mode: number): string {
  const temporary = `${path}.${randomBytes(8).toString('hex')}.tmp`;
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0);
  const fd = openSync(temporary, flags, mode);
  try {
    if (isPosix) fchmodSync(fd, mode); // the umask may have narrowed the mode
    writeFileSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return temporary;
}

function writeFileAtomic(path: string, text: string, mode: number): void {
  const temporary = writeTemporary(path, text, mode);
  renameSync(temporary, path);
  syncDirectory(path);
}

/** Links a new file into place only if none exists; false when another writer got there first. */
function writeFileExclusive(path: string, text: string, mode: number): boolean {
  const temporary = writeTemporary(path, text, mode);
  try {
    linkSync(temporary, path);
    syncDirectory(path);
    return true;
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw cause;
  } finally {
    unlinkSync(temporary);
  }
}

function syncDirectory(path: string): void {
  if (!isPosix) return;
  const fd = openSync(join(path, '..'), constants.O_RDONLY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export function describeIdentityFileError(error: IdentityFileError): string {
  switch (error.code) {
    case 'IDENTITY_FILE_TOO_OPEN':
      return `${error.path} is open to other users (mode ${error.mode.toString(8)}): run \`chmod go-rwx ${error.path}\`, and if others may have copied your keys, create a new identity`;
    case 'IDENTITY_FILE_NOT_OURS':
      return `${error.path} belongs to another user: Postern only uses secret keys that you own`;
    case 'IDENTITY_FILE_UNREADABLE':
      return `cannot read ${error.path}: ${error.reason}`;
    case 'IDENTITY_FILE_INVALID':
      return `${error.path} is damaged: ${error.reason} — restore it from a backup, or move it away to create a new identity`;
  }
}
