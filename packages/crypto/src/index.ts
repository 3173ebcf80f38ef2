export {
  CryptoLimits,
  KeyBytes,
  type CryptoError,
  type CryptoProvider,
  type Ed25519KeyPair,
  type HashName,
  type ProviderName,
  type ProviderOptions,
  type RandomSource,
} from './provider.ts';
export { createNobleProvider } from './noble-provider.ts';
export { createSodiumProvider } from './sodium-provider.ts';
