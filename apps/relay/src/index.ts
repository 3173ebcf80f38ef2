export { type RelayConfig, ConfigError, ENV, resolveConfig, defaults } from './config.ts';
export { parsePublicKey, resolvePublicKey, showPublicKey, readAllowList } from './keys.ts';
export { type Logger, type RunningRelay, jsonLogger, openStore, startRelay, syncAllowList } from './relay.ts';
