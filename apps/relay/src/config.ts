import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
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
  /** Worker threads verifying request signatures and signing answers; 0: on the event loop. */
  readonly verifyThreads: number;
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
  verifyThreads: 'POSTERN_RELAY_VERIFY_THREADS',
};

/** Number settings and their ranges. */
const NUMBERS: Partial<Record<keyof RelayConfig, { min: number; max: number; what: string }>> = {
  port: { min: 0, max: 65_535, what: 'a port number (0 to 65535)' },
  quotaRecords: { min: 1, max: Number.MAX_SAFE_INTEGER, what: 'a positive integer' },
  quotaBytes: { min: 1, max: Number.MAX_SAFE_INTEGER, what: 'a positive integer' },
  pullsPerRecord: { min: 1, max: Number.MAX_SAFE_INTEGER, what: 'a positive integer' },
  verifyThreads: { min: 0, max: 64, what: 'a number of threads (0 to 64)' },
};

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
    verifyThreads: defaultVerifyThreads(),
  };
}

/**
 * One thread per core beyond the event loop's, up to 4: on a 2-core machine one thread took the
 * loaded relay from 4,200 to 5,113 writes/s (docs/BENCHMARKS.md, 2026-11-22); one core gains nothing.
 */
export function defaultVerifyThreads(): number {
  return Math.max(0, Math.min(4, availableParallelism() - 1));
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
    const range = NUMBERS[name];
    merged[name] = range === undefined ? text(name, value) : integer(name, value, range);
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

function integer(name: string, value: unknown, range: { min: number; max: number; what: string }): number {
  const number = typeof value === 'number' ? value : Number(String(value).trim());
  if (!Number.isSafeInteger(number) || number < range.min || number > range.max) {
    throw new ConfigError(`${name} must be ${range.what}, not "${String(value)}"`);
  }
  return number;
}
