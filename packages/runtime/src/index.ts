export { defaultDataDir } from './data-dir.ts';
export {
  SECRET_FILE,
  PUBLIC_FILE,
  IdentityFileFailure,
  loadOrCreateIdentity,
  loadIdentity,
  saveIdentity,
  describeIdentityFileError,
  type IdentityFileError,
  type LoadedIdentity,
} from './identity-file.ts';
