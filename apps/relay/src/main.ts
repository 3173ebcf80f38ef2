#!/usr/bin/env node
// The relay server command: `npm run relay -- start` runs one; `accounts` manages who may write.
// Thin: parse arguments and the config, call the runtime, print. Errors are one sentence with the
// fix, on stderr, exit code 1 (2 for a port already in use).
import { Command } from 'commander';
import { createSodiumProvider } from '@postern/crypto';
import { RelayStoreError, stopOnSignals } from '@postern/runtime';
import { ConfigError, type RelayConfig, resolveConfig } from './config.ts';
import { resolvePublicKey, showPublicKey } from './keys.ts';
import { jsonLogger, openStore, startRelay, syncAllowList } from './relay.ts';

const crypto = createSodiumProvider();

type CliOptions = Partial<Record<keyof RelayConfig, string>> & { config?: string; json?: boolean };

function withStoreOptions(command: Command): Command {
  return command
    .option('--config <file>', 'JSON config file (env POSTERN_RELAY_CONFIG)')
    .option('--data <dir>', 'directory of the SQLite file relay.db (env POSTERN_RELAY_DATA)')
    .option('--pg <url>', 'use PostgreSQL at this URL instead of SQLite (env POSTERN_RELAY_PG)')
    .option('--pg-schema <name>', 'PostgreSQL schema for the tables (env POSTERN_RELAY_PG_SCHEMA)');
}

const program = new Command()
  .name('postern-relay')
  .description('A Postern relay: stores signed, sealed records for the accounts it serves (seed 003)')
  .showHelpAfterError();

withStoreOptions(program.command('start').description('run the relay until Ctrl-C'))
  .option('--host <address>', 'address to listen on (env POSTERN_RELAY_HOST; default 127.0.0.1)')
  .option('--port <port>', 'port for WebSocket and /metrics (env POSTERN_RELAY_PORT; default 7700)')
  .option(
    '--allow-list <file>',
    'keys whose accounts are kept open, one per line (env POSTERN_RELAY_ALLOW_LIST)',
  )
  .option('--quota-records <n>', 'records an account may hold (env POSTERN_RELAY_QUOTA_RECORDS)')
  .option('--quota-bytes <n>', 'content bytes an account may hold (env POSTERN_RELAY_QUOTA_BYTES)')
  .option(
    '--pulls-per-record <n>',
    'reads of one record before it is refused (env POSTERN_RELAY_PULLS_PER_RECORD)',
  )
  .option(
    '--verify-threads <n>',
    'worker threads checking request signatures and signing answers, 0 for none (env POSTERN_RELAY_VERIFY_THREADS)',
  )
  .action(async (options: CliOptions) => {
    const config = resolveConfig(options, process.env);
    const relay = await startRelay(crypto, config, jsonLogger);
    // SIGHUP re-reads the allow-list here, so only Ctrl-C and SIGTERM stop the relay.
    stopOnSignals(
      () =>
        relay.stop().then(
          () => process.exit(0),
          (error: Error) => {
            jsonLogger('error', 'stop-failed', { reason: error.message });
            process.exit(1);
          },
        ),
      {
        signals: ['SIGINT', 'SIGTERM'],
        onHang: (ms) => jsonLogger('error', 'stop-failed', { reason: `not stopped within ${ms / 1000} s` }),
      },
    );
    process.on('SIGHUP', () => {
      syncAllowList(relay.store, config, jsonLogger, Date.now()).catch((error: Error) =>
        jsonLogger('error', 'allow-list-failed', { reason: error.message }),
      );
    });
  });

const accounts = program.command('accounts').description('open, close and list accounts (who may write)');

withStoreOptions(
  accounts
    .command('open <key>')
    .description('open (or reopen) the account of a key: a messaging id or an identity document file'),
)
  .option('--quota-records <n>', 'records it may hold')
  .option('--quota-bytes <n>', 'content bytes it may hold')
  .action(async (keyText: string, options: CliOptions) => {
    const key = requireKey(keyText);
    const config = resolveConfig(options, process.env);
    const store = await openStore(config);
    await store.openAccount(
      key,
      { recordsMax: config.quotaRecords, bytesMax: config.quotaBytes },
      'operator',
      Date.now(),
    );
    await store.close();
    console.log(`opened ${showPublicKey(key)}: ${config.quotaRecords} records, ${config.quotaBytes} bytes`);
  });

withStoreOptions(accounts.command('close <key>').description('close an account: no more writes')).action(
  async (keyText: string, options: CliOptions) => {
    const key = requireKey(keyText);
    const store = await openStore(resolveConfig(options, process.env));
    const closed = await store.closeAccount(key, Date.now(), 'operator');
    await store.close();
    if (!closed) fail(`no open account for ${showPublicKey(key)} — see \`npm run relay -- accounts list\``);
    console.log(`closed ${showPublicKey(key)}`);
  },
);

withStoreOptions(accounts.command('list').description('list accounts'))
  .option('--json', 'print as JSON')
  .action(async (options: CliOptions) => {
    const store = await openStore(resolveConfig(options, process.env));
    const list = await store.accounts();
    await store.close();
    const rows = list.map((a) => ({
      key: showPublicKey(a.pubkey),
      active: a.active,
      source: a.source,
      records: a.records,
      recordsMax: a.recordsMax,
      bytes: a.bytes,
      bytesMax: a.bytesMax,
    }));
    if (options.json) console.log(JSON.stringify(rows, null, 2));
    else if (rows.length === 0)
      console.log('no accounts — open one with `npm run relay -- accounts open <key>`');
    else
      for (const r of rows)
        console.log(
          `${r.key}  ${r.active ? 'open  ' : 'closed'}  ${r.records}/${r.recordsMax} records  ${r.bytes}/${r.bytesMax} bytes  (${r.source})`,
        );
  });

function requireKey(text: string): Uint8Array {
  return resolvePublicKey(crypto, text);
}

function fail(sentence: string, code = 1): never {
  console.error(`postern-relay: ${sentence}`);
  process.exit(code);
}

try {
  await program.parseAsync();
} catch (error) {
  if (error instanceof ConfigError || error instanceof RelayStoreError) fail(error.message);
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') fail(`the port is already in use — choose another with --port`, 2);
  if (code === 'ECONNREFUSED') fail(`cannot reach PostgreSQL (${(error as Error).message}) — check --pg`);
  throw error;
}
