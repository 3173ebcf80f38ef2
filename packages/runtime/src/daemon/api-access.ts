import { randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * How the postern command finds and authenticates to the node running on a data directory: the
 * node writes `api.json` (its local API's URL and its pid) and `api.token` (a fresh random token),
 * both readable by the user only, and removes them when it stops. Anyone who can read the token can
 * command the node, exactly as anyone who can read the data directory can read its keys.
 */
export const API_INFO_FILE = 'api.json';
export const API_TOKEN_FILE = 'api.token';

export interface ApiInfo {
  readonly url: string;
  readonly pid: number;
}

export interface ApiAccess extends ApiInfo {
  readonly token: string;
}

export class ApiAccessError extends Error {
  override name = 'ApiAccessError';
  readonly code: 'API_NOT_RUNNING';
  constructor(code: ApiAccessError['code'], message: string) {
    super(message);
    this.code = code;
  }
}

/**
 * A new token, then the files naming the API. The caller holds the data directory (the node
 * database's lock): files left by a node that died are simply replaced.
 */
export function claimApiAccess(dataDir: string, url: string): ApiAccess {
  const token = randomBytes(32).toString('hex');
  writePrivate(join(dataDir, API_TOKEN_FILE), `${token}\n`);
  writePrivate(join(dataDir, API_INFO_FILE), `${JSON.stringify({ url, pid: process.pid })}\n`);
  return { url, pid: process.pid, token };
}

/** Removes the files, if they are still this process's. */
export function releaseApiAccess(dataDir: string): void {
  if (readInfo(dataDir)?.pid !== process.pid) return;
  rmSync(join(dataDir, API_INFO_FILE), { force: true });
  rmSync(join(dataDir, API_TOKEN_FILE), { force: true });
}

/** The running node's API and token, for the postern command. */
export function readApiAccess(dataDir: string): ApiAccess {
  const info = runningNode(dataDir);
  if (info === undefined) {
    throw new ApiAccessError(
      'API_NOT_RUNNING',
      `no node is running on ${dataDir} — start it with \`npm start\` (or \`postern node --data ${dataDir}\`)`,
    );
  }
  try {
    return { ...info, token: readFileSync(join(dataDir, API_TOKEN_FILE), 'utf8').trim() };
  } catch {
    throw new ApiAccessError('API_NOT_RUNNING', `the node on ${dataDir} is stopping or starting — try again`);
  }
}

/** Compares a presented token with the expected one in constant time. */
export function tokenMatches(expected: string, presented: string | undefined): boolean {
  if (presented === undefined) return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(presented);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * The API files' node, if that process is still alive (a node killed with -9 leaves them behind;
 * if its pid was reused since, the command finds the URL silent and says so).
 */
function runningNode(dataDir: string): ApiInfo | undefined {
  const info = readInfo(dataDir);
  if (info === undefined) return undefined;
  try {
    process.kill(info.pid, 0);
    return info;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM' ? info : undefined;
  }
}

function readInfo(dataDir: string): ApiInfo | undefined {
  try {
    const json = JSON.parse(readFileSync(join(dataDir, API_INFO_FILE), 'utf8')) as Partial<ApiInfo>;
    if (typeof json.url !== 'string' || typeof json.pid !== 'number') return undefined;
    return { url: json.url, pid: json.pid };
  } catch {
    return undefined;
  }
}

/** Written beside, made private, then renamed: never readable by others, never half written. */
function writePrivate(path: string, text: string): void {
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, text, { mode: 0o600 });
  chmodSync(temporary, 0o600);
  renameSync(temporary, path);
}
