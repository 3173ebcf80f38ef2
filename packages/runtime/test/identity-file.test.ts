import assert from 'node:assert/strict';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createSodiumProvider } from '@postern/crypto';
import { parseIdentityDocument } from '@postern/identity';
import {
  IdentityFileFailure,
  PUBLIC_FILE,
  SECRET_FILE,
  loadIdentity,
  loadOrCreateIdentity,
} from '../src/index.ts';

const crypto = createSodiumProvider();
const root = mkdtempSync(join(tmpdir(), 'postern-identity-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = () => join(root, `data-${n++}`);

describe('the identity file store', () => {
  it('creates an identity on first run with a private secret file, then loads the same one', () => {
    const dir = freshDir();
    const first = loadOrCreateIdentity(crypto, dir, 'Alice');
    assert.equal(first.created, true);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.equal(statSync(first.secretPath).mode & 0o777, 0o600);
    const second = loadOrCreateIdentity(crypto, dir, 'ignored on load');
    assert.equal(second.created, false);
    assert.deepEqual(second.identity.document, first.identity.document);
    assert.deepEqual(readdirSync(dir).sort(), [PUBLIC_FILE, SECRET_FILE], 'no temporary files left behind');
  });

  it('writes a public document that verifies and holds no secret', () => {
    const dir = freshDir();
    const { identity, publicPath } = loadOrCreateIdentity(crypto, dir, 'Alice');
    const text = readFileSync(publicPath, 'utf8');
    assert.ok(parseIdentityDocument(crypto, text).ok);
    assert.ok(!text.includes('signingSeed') && !text.includes('encryptionSecret'));
    assert.equal(parseIdentityDocument(crypto, text).ok && identity.document.label, 'Alice');
  });

  it('refuses a secret file other users can read, saying how to fix it', () => {
    const dir = freshDir();
    const { secretPath } = loadOrCreateIdentity(crypto, dir, 'Alice');
    chmodSync(secretPath, 0o644);
    assert.throws(
      () => loadIdentity(crypto, dir),
      (e: unknown) =>
        e instanceof IdentityFileFailure &&
        e.error.code === 'IDENTITY_FILE_TOO_OPEN' &&
        /chmod go-rwx/.test(e.message),
    );
  });

  it('refuses a damaged secret file without overwriting it', () => {
    const dir = freshDir();
    const { secretPath } = loadOrCreateIdentity(crypto, dir, 'Alice');
    const damaged = readFileSync(secretPath, 'utf8').replace('"label": "Alice"', '"label": "Mallory"');
    writeFileSync(secretPath, damaged, { mode: 0o600 });
    assert.throws(
      () => loadOrCreateIdentity(crypto, dir, 'Alice'),
      (e: unknown) =>
        e instanceof IdentityFileFailure &&
        e.error.code === 'IDENTITY_FILE_INVALID' &&
        /signature/.test(e.message),
    );
    assert.equal(readFileSync(secretPath, 'utf8'), damaged);
  });

  it('refuses to keep secrets in a directory other users can write into', () => {
    const dir = freshDir();
    mkdirSync(dir, { mode: 0o777 });
    chmodSync(dir, 0o777);
    assert.throws(
      () => loadOrCreateIdentity(crypto, dir, 'Alice'),
      (e: unknown) =>
        e instanceof IdentityFileFailure && e.error.code === 'IDENTITY_FILE_TOO_OPEN' && e.error.path === dir,
    );
    assert.deepEqual(readdirSync(dir), [], 'no key was written');
  });

  it('does not follow a symlink planted where the secret file should be', () => {
    const dir = freshDir();
    const { secretPath } = loadOrCreateIdentity(crypto, dir, 'Alice');
    const elsewhere = join(root, `moved-${n}`);
    renameSync(secretPath, elsewhere);
    symlinkSync(elsewhere, secretPath);
    assert.throws(
      () => loadIdentity(crypto, dir),
      (e: unknown) => e instanceof IdentityFileFailure && e.error.code === 'IDENTITY_FILE_UNREADABLE',
    );
  });

  it('says there is no identity when the directory is empty', () => {
    assert.throws(
      () => loadIdentity(crypto, freshDir()),
      (e: unknown) => e instanceof IdentityFileFailure && e.error.code === 'IDENTITY_FILE_UNREADABLE',
    );
  });
});
