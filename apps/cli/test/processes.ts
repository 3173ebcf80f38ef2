// Real postern processes for the CLI's tests: nodes (`postern node --json`) and relays in the
// background, one-shot commands, and the node's local API read straight from its data directory.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { type FSWatcher, watch } from 'node:fs';
import { ChildJsonLines } from '@postern/testkit';
import { NodeClient } from '../src/node-client.ts';

export const root = new URL('../../..', import.meta.url).pathname;
const MAIN = 'apps/cli/src/main.ts';

export interface Running extends Record<string, unknown> {
  event: string;
  messagingId: string;
  node: string;
  addresses: string[];
  /** The addresses bound (addresses: those given to contacts). */
  listening: string[];
  card: string;
  pid: number;
}

/** Every background process started here, to kill at the end of a test file. */
export const background = new Set<ChildJsonLines>();

export async function killAll(): Promise<void> {
  for (const lines of background) await lines.kill('SIGKILL');
  background.clear();
}

/** One `postern …` command, run to its end. */
export function postern(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/**
 * The same, without blocking this process: needed when this process serves something the command
 * uses (PGlite's socket server lives in the test process).
 */
export function posternAsync(
  ...args: string[]
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 60_000,
    killSignal: 'SIGKILL',
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

/** A `postern …` command left running in the background (a node, `inbox --follow`), its JSON lines read. */
export function spawnPostern(name: string, args: string[], main = MAIN): ChildJsonLines {
  const lines = new ChildJsonLines(name);
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', main, ...args], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  lines.attach(child);
  background.add(lines);
  return lines;
}

/** `postern node --json` on `dir`, any free ports; resolves with its running line. */
export async function startNode(
  dir: string,
  label: string,
  ...extra: string[]
): Promise<{ lines: ChildJsonLines; ready: Running }> {
  const args = ['node', '--json', '--data', dir, '--label', label, '--port', '0', '--ws-port', '0', ...extra];
  const lines = spawnPostern(label, args);
  const ready = (await lines.waitFor((line) => line['event'] === 'running')) as Running;
  return { lines, ready };
}

/** The relay program (`postern relay start …` runs it), as its own process so kill -9 reaches it. */
export async function startRelay(
  name: string,
  args: string[],
): Promise<{ lines: ChildJsonLines; address: string }> {
  const lines = spawnPostern(name, ['start', '--port', '0', ...args], 'apps/relay/src/main.ts');
  const started = await lines.waitFor((line) => line['event'] === 'started');
  return { lines, address: started['address'] as string };
}

/** A request to the local API of the node running on `dir`, as the postern command makes it. */
export function api<T>(dir: string, path: string, body?: Record<string, unknown>): Promise<T> {
  const client = NodeClient.open(dir);
  return body === undefined ? client.get<T>(path) : client.post<T>(path, body);
}

/**
 * Waits on the nodes' own writes rather than the clock: every step of a node (a message stored, a
 * state changed, a contact's presence) is written to its database under `dir`, so a condition on
 * what the nodes show is checked again after each file change under it, until it holds.
 */
export class DiskChanges {
  readonly #watcher: FSWatcher;
  #changed = false;
  #waiters: (() => void)[] = [];

  constructor(dir: string) {
    this.#watcher = watch(dir, { recursive: true }, () => {
      this.#changed = true;
      for (const wake of this.#waiters.splice(0)) wake();
    });
  }

  /** Resolves once `check` holds; fails if it does not within `seconds`. */
  async until(what: string, check: () => boolean | Promise<boolean>, seconds = 60): Promise<void> {
    const signal = AbortSignal.timeout(seconds * 1000);
    const aborted = new Promise<void>((resolve) =>
      signal.addEventListener('abort', () => resolve(), { once: true }),
    );
    for (let i = 0; i < 1_000_000 && !signal.aborted; i++) {
      this.#changed = false;
      if (await check()) return;
      if (!this.#changed)
        await Promise.race([aborted, new Promise<void>((resolve) => this.#waiters.push(resolve))]);
    }
    throw new Error(`not within ${seconds} s: ${what}`);
  }

  close(): void {
    this.#watcher.close();
    for (const wake of this.#waiters.splice(0)) wake();
  }
}
