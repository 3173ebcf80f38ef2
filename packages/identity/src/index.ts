export {
  type IdentityDocument,
  type UnsignedIdentityDocument,
  type IdentityError,
  identitySigningBytes,
  signIdentityDocument,
  verifyIdentityDocument,
  validateFields,
  formatIdentityDocument,
  parseIdentityDocument,
  encodeIdentityRecord,
  decodeIdentityRecord,
  describeIdentityError,
} from './document.ts';
export {
  type Identity,
  type IdentityProfile,
  type RecipientKeys,
  createIdentity,
  updateIdentity,
  restoreIdentity,
  recipientKeys,
} from './identity.ts';
export { encodeSecretIdentity, decodeSecretIdentity } from './secret-file.ts';
export { SecretKey } from './secret-key.ts';
export { IdentityLimits } from './limits.ts';
