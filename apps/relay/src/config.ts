import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_RELAY_LIMITS } from '@postern/relay';
import { defaultDataDir } from '@postern/runtime';

/**
 * A relay's settings, from (highest first) command-line options, environment variables, a JSON
 * config file, and defaults. Every setting has all three spellings; see apps/relay/README.md.
 */
export interface RelayConfig {
  readonly host: string;
  readonly port: number;
  /** Directory of the SQLite file (relay.db), unless `pg` is set. */
  readonly data: string;
  /** PostgreSQL URL: several relay processes may share one database. */
  readonly pg: string | undefined;
  /** PostgreSQL schema for the relay's tables (default: public): several relays, one database. */
  readonly pgSchema: string | undefined;
  /** A file of public keys, one per line, whose accounts are kept open. */
  readonly allowList: string | undefined;
  readonly quotaRecords: number;
  readonly quotaBytes: number;
  readonly pullsPerRecord: number;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Setting → environment variable. */
export const ENV: Record<keyof RelayConfig, string> = {
  host: 'POSTERN_RELAY_HOST',
  port: 'POSTERN_RELAY_PORT',
  data: 'POSTERN_RELAY_DATA',
  pg: 'POSTERN_RELAY_PG',
  pgSchema: 'POSTERN_RELAY_PG_SCHEMA',
  allowList: 'POSTERN_RELAY_ALLOW_LIST',
  quotaRecords: 'POSTERN_RELAY_QUOTA_RECORDS',
  quotaBytes: 'POSTERN_RELAY_QUOTA_BYTES',
  pullsPerRecord: 'POSTERN_RELAY_PULLS_PER_RECORD',
};

const NUMBERS = new Set<keyof RelayConfig>(['port', 'quotaRecords', 'quotaBytes', 'pullsPerRecord']);

export function defaults(env: NodeJS.ProcessEnv): RelayConfig {
  return {
    host: '127.0.0.1',
    port: 7700,
    data: join(defaultDataDir(env), 'relay'),
    pg: undefined,
    pgSchema: undefined,
    allowList: undefined,
    quotaRecords: DEFAULT_RELAY_LIMITS.accountRecordsMax,
    quotaBytes: DEFAULT_RELAY_LIMITS.accountBytesMax,
    pullsPerRecord: DEFAULT_RELAY_LIMITS.pullsPerRecordMax,
  };
}

/** Merges the sources; `cli` holds only the options given on the command line, as text. */
export function resolveConfig(
  cli: Partial<Record<keyof RelayConfig, string>> & { config?: string },
  env: NodeJS.ProcessEnv,
): RelayConfig {
  const file = cli.config ?? env['POSTERN_RELAY_CONFIG'];
  const fromFile = file === undefined ? {} : readConfigFile(file);
  const merged: Record<string, unknown> = { ...defaults(env) };
  for (const name of Object.keys(ENV) as (keyof RelayConfig)[]) {
    const value = cli[name] ?? env[ENV[name]] ?? fromFile[name];
    if (value === undefined) continue;
    merged[name] = NUMBERS.has(name) ? positiveInteger(name, value) : text(name, value);
  }
  return merged as unknown as RelayConfig;
}

function readConfigFile(path: string): Partial<Record<keyof RelayConfig, unknown>> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new ConfigError(`cannot read the config file ${path}: ${(cause as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new ConfigError(`the config file ${path} is not JSON: ${(cause as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(`the config file ${path} must hold one JSON object`);
  }
  const unknown = Object.keys(parsed).find((key) => !Object.hasOwn(ENV, key));
  if (unknown !== undefined) {
    throw new ConfigError(
      `the config file ${path} has an unknown setting "${unknown}" (known: ${Object.keys(ENV).join(', ')})`,
    );
  }
  return parsed;
}

function text(name: string, value: unknown): string {
  if (typeof value !== 'string' || value === '')
    throw new ConfigError(`${name} must be text, not ${JSON.stringify(value)}`);
  return value;
}

function positiveInteger(name: string, value: unknown): number {
  const number = typeof value === 'number' ? value : Number(String(value).trim());
  if (
    !Number.isSafeInteger(number) ||
    number < (name === 'port' ? 0 : 1) ||
    (name === 'port' && number > 65_535)
  ) {
    throw new ConfigError(
      `${name} must be ${name === 'port' ? 'a port number (0 to 65535)' : 'a positive integer'}, not "${String(value)}"`,
    );
  }
  return number;
}
