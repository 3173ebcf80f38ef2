import { type Result, err, fromBase64url, toBase64url } from '@postern/core';
import type { CryptoProvider } from '@postern/crypto';
import {
  type IdentityError,
  describeValue,
  formatIdentityDocument,
  parseIdentityDocument,
} from './document.ts';
import { findDuplicateKey } from './json-keys.ts';
import { IdentityLimits } from './limits.ts';
import { type Identity, restoreIdentity } from './identity.ts';

/**
 * The text of the secret identity file: the two secrets and the last signed document, in JSON.
 * Where it lives and with which permissions is the runtime's business (packages/runtime).
 */
const FILE_TYPE = 'PosternSecretIdentity';
/** The secret file holds two keys and one document: twice the document limit is ample. */
const SECRET_FILE_CHARS_MAX = 2 * IdentityLimits.documentBytesMax;
const WARNING =
  'This file holds your secret keys. Anyone who reads it can read your mail and sign as you. Never share it.';

export function encodeSecretIdentity(identity: Identity): string {
  const file = {
    type: FILE_TYPE,
    version: 1,
    warning: WARNING,
    signingSeed: toBase64url(identity.signingSeed.expose()),
    encryptionSecret: toBase64url(identity.encryptionSecret.expose()),
    document: JSON.parse(formatIdentityDocument(identity.document)) as unknown,
  };
  return `${JSON.stringify(file, null, 2)}\n`;
}

export function decodeSecretIdentity(crypto: CryptoProvider, text: string): Result<Identity, IdentityError> {
  if (text.length > SECRET_FILE_CHARS_MAX) {
    return err({ code: 'IDENTITY_TOO_LARGE', size: text.length, max: SECRET_FILE_CHARS_MAX });
  }
  let file: unknown;
  try {
    file = JSON.parse(text);
  } catch {
    return err({ code: 'IDENTITY_MALFORMED', reason: 'the secret identity file is not JSON' });
  }
  if (typeof file !== 'object' || file === null) {
    return err({ code: 'IDENTITY_MALFORMED', reason: 'not an object' });
  }
  const duplicate = findDuplicateKey(text);
  if (duplicate !== undefined) return err({ code: 'IDENTITY_DUPLICATE_FIELD', field: duplicate });
  const { type, version, signingSeed, encryptionSecret, document } = file as Record<string, unknown>;
  if (type !== FILE_TYPE) return err({ code: 'IDENTITY_NOT_AN_IDENTITY', type: describeValue(type) });
  if (version !== 1) return err({ code: 'IDENTITY_UNSUPPORTED_VERSION', version: describeValue(version) });
  const seed = typeof signingSeed === 'string' ? fromBase64url(signingSeed) : undefined;
  const secret = typeof encryptionSecret === 'string' ? fromBase64url(encryptionSecret) : undefined;
  if (!seed?.ok) return err({ code: 'IDENTITY_BAD_FIELD', field: 'signingSeed', reason: 'is not base64url' });
  if (!secret?.ok)
    return err({ code: 'IDENTITY_BAD_FIELD', field: 'encryptionSecret', reason: 'is not base64url' });
  const doc = parseIdentityDocument(crypto, JSON.stringify(document ?? null));
  if (!doc.ok) return doc;
  return restoreIdentity(crypto, seed.value, secret.value, doc.value);
}
