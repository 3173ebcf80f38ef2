// The README's "Two people on one machine" walk-through, run line by line as a person would paste it,
// so the README cannot rot. Conventions of that block: `npm start …` runs until stopped (another
// terminal); `# → text` means the command above prints `text` (run again after each change the nodes
// write, up to 30 s: messages take a moment); "Ctrl-C in X's terminal" stops X's node the way a terminal does
// (SIGINT to its process group); "Start X's node again" repeats X's `npm start` line. The one change
// made to the lines: `./demo/` becomes a temporary directory, so a `./demo` of yours is never touched.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DiskChanges } from './processes.ts';

const root = new URL('../../..', import.meta.url).pathname;
const demo = mkdtempSync(join(tmpdir(), 'postern-readme-'));
const nodes = new Map<string, { line: string; child: ChildProcess }>();
const disk = new DiskChanges(demo);
after(() => {
  disk.close();
  for (const { child } of nodes.values()) stopGroup(child, 'SIGKILL');
  rmSync(demo, { recursive: true, force: true });
});

function walkthrough(): string[] {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const block = /```sh walkthrough\n([\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(block, 'README.md has a ```sh walkthrough block');
  return block.split('\n').filter((line) => line.trim() !== '');
}

const localize = (line: string) => line.replaceAll('./demo/', `${demo}/`);
const labelOf = (line: string) => /--label (\S+)/.exec(line)?.[1] ?? '';

function stopGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

/** Runs an `npm start` line in its own process group; resolves once the node says it runs. */
function startNode(line: string): Promise<ChildProcess> {
  const child = spawn('bash', ['-c', localize(line)], {
    cwd: root,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  return new Promise((resolve, reject) => {
    const signal = AbortSignal.timeout(60_000);
    signal.addEventListener('abort', () => reject(new Error(`${line}: not running after 60 s:\n${output}`)));
    const read = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Postern node running.')) resolve(child);
    };
    child.stdout?.on('data', read);
    child.stderr?.on('data', read);
    child.once('exit', (code) => reject(new Error(`${line}: exited with ${code}:\n${output}`)));
  });
}

/**
 * Ctrl-C: SIGINT to the group. npm itself dies of the signal, as in a terminal; the node must stop
 * cleanly, which removes its API files.
 */
async function interrupt(child: ChildProcess, line: string): Promise<void> {
  const exited = child.exitCode !== null || child.signalCode !== null;
  stopGroup(child, 'SIGINT');
  if (!exited) await new Promise((resolve) => child.once('exit', resolve));
  const dataDir = localize(/--data (\S+)/.exec(line)?.[1] ?? '');
  // npm may be gone before the node it started: wait for the node to remove its API files.
  await disk.until(
    `${line}: the node stops cleanly on Ctrl-C`,
    () => !existsSync(join(dataDir, 'api.json')),
    10,
  );
}

function run(line: string): { code: number | null; output: string } {
  const result = spawnSync('bash', ['-c', localize(line)], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  return { code: result.status, output: `${result.stdout}${result.stderr}` };
}

/** Runs `line` again after each change the nodes write, until it prints `expected`. */
async function runUntil(line: string, expected: string): Promise<void> {
  let last = { code: null as number | null, output: '' };
  try {
    await disk.until(
      `${line} to print "${expected}"`,
      () => {
        last = run(line);
        return last.output.includes(expected);
      },
      30,
    );
  } catch {
    assert.fail(`${line}\nshould print "${expected}", printed:\n${last.output}`);
  }
}

describe('the README walk-through', () => {
  it('works when pasted line by line: a message delivered, then one held by a replicant while Bob is away', async () => {
    const lines = walkthrough();
    assert.ok(lines.length > 10);
    let previous = '';
    for (const line of lines) {
      const stop = /Ctrl-C in (\w+)'s terminal/.exec(line);
      const again = /Start (\w+)'s node again/.exec(line);
      const expect = /^# → (.*)$/.exec(line);
      if (line.startsWith('npm start')) {
        nodes.set(labelOf(line), { line, child: await startNode(line) });
      } else if (stop) {
        const node = nodes.get(stop[1] as string);
        assert.ok(node, `no node of ${stop[1]} to stop`);
        await interrupt(node.child, node.line);
      } else if (again) {
        const node = nodes.get(again[1] as string);
        assert.ok(node, `no earlier start line for ${again[1]}`);
        node.child = await startNode(node.line);
      } else if (expect) {
        await runUntil(previous, expect[1] as string);
      } else if (!line.startsWith('#')) {
        const result = run(line);
        assert.equal(result.code, 0, `${line}\n${result.output}`);
        previous = line;
      }
    }
    for (const { child, line } of nodes.values()) await interrupt(child, line);
  });
});
