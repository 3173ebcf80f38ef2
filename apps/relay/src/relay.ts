import { join } from 'node:path';
import { toHex } from '@postern/core';
import type { CryptoProvider } from '@postern/crypto';
import type { RelayStore } from '@postern/relay';
import { PgRelayStore, RelayService, SqliteRelayStore } from '@postern/runtime';
import type { RelayConfig } from './config.ts';
import { readAllowList, showPublicKey } from './keys.ts';

/** One structured log line per event, as JSON on stdout. */
export type Logger = (
  level: 'info' | 'warn' | 'error',
  event: string,
  fields?: Record<string, unknown>,
) => void;

export const jsonLogger: Logger = (level, event, fields = {}) => {
  process.stdout.write(`${JSON.stringify({ ts: new Date().toISOString(), level, event, ...fields })}\n`);
};

export async function openStore(config: RelayConfig): Promise<RelayStore> {
  if (config.pg !== undefined) {
    return PgRelayStore.open(config.pg, config.pgSchema === undefined ? {} : { schema: config.pgSchema });
  }
  return new SqliteRelayStore(join(config.data, 'relay.db'));
}

/**
 * Opens the listed accounts and closes allow-list accounts no longer listed. Accounts the operator
 * opened or closed by hand (`accounts open|close`) are left as they are.
 */
export async function syncAllowList(
  store: RelayStore,
  config: RelayConfig,
  log: Logger,
  now: number,
): Promise<void> {
  if (config.allowList === undefined) return;
  const listed = readAllowList(config.allowList);
  const keep = new Set(listed.map((key) => toHex(key)));
  const quota = { recordsMax: config.quotaRecords, bytesMax: config.quotaBytes };
  let skipped = 0;
  for (const key of listed) {
    // An account the operator opened or closed by hand is the operator's, not the list's.
    const existing = await store.account(key);
    if (existing !== undefined && existing.source !== 'allow-list') {
      skipped++;
      continue;
    }
    await store.openAccount(key, quota, 'allow-list', now);
  }
  let closed = 0;
  for (const account of await store.accounts()) {
    if (account.source === 'allow-list' && account.active && !keep.has(toHex(account.pubkey))) {
      await store.closeAccount(account.pubkey, now, 'allow-list');
      closed++;
    }
  }
  log('info', 'allow-list', {
    file: config.allowList,
    open: listed.length - skipped,
    closed,
    operatorAccounts: skipped,
  });
}

export interface RunningRelay {
  readonly service: RelayService;
  readonly store: RelayStore;
  stop(): Promise<void>;
}

/** Starts a relay: store, allow-list, service. `stop` closes all three in order. */
export async function startRelay(
  crypto: CryptoProvider,
  config: RelayConfig,
  log: Logger,
): Promise<RunningRelay> {
  const store = await openStore(config);
  try {
    await syncAllowList(store, config, log, Date.now());
    const service = await RelayService.start({
      crypto,
      store,
      port: config.port,
      host: config.host,
      limits: { pullsPerRecordMax: config.pullsPerRecord },
      verifyThreads: config.verifyThreads,
      log,
    });
    log('info', 'started', {
      address: service.address,
      relayKey: showPublicKey(service.server.publicKey),
      storage: config.pg === undefined ? join(config.data, 'relay.db') : 'postgresql',
      metrics: `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${service.port}/metrics`,
    });
    return {
      service,
      store,
      stop: async () => {
        await service.close();
        await store.close();
        log('info', 'stopped');
      },
    };
  } catch (error) {
    await store.close();
    throw error;
  }
}
