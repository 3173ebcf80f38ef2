import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';

const root = new URL('../../..', import.meta.url).pathname;

describe('npm run demo', () => {
  it('plays the offline story to the end (delivered once, via the replicant or the relay) and cleans up', () => {
    const result = spawnSync('npm', ['run', '-s', 'demo', '--', '--fast'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 120_000,
    });
    assert.equal(result.status, 0, result.stderr);
    const out = result.stdout;
    assert.match(out, /Bob goes offline/);
    assert.match(out, /Carol holds 1 message for Bob/);
    assert.match(out, /the relay holds 1 record of Alice's too/);
    assert.match(out, /Bob's inbox: "Hi Bob — dinner on Friday\?" from Alice, via (replicant|relay|direct)/);
    assert.match(out, /Alice's message is delivered/);
    assert.equal(out.match(/Bob's inbox:/g)?.length, 1, "one message in Bob's inbox");
    const dir = /removed (\S+)\.$/m.exec(out)?.[1];
    assert.ok(dir !== undefined && !existsSync(dir), 'the demo removes its directory');
  });

  it('stops its nodes and removes its directory on Ctrl-C, midway', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'apps/cli/src/demo.ts', '--fast'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 120_000,
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      out += text;
      if (text.includes('is running')) child.kill('SIGINT');
    });
    const code = await new Promise((resolve) => child.once('exit', resolve));
    assert.equal(code, 130, out);
    assert.match(out, /Interrupted\./);
    assert.doesNotMatch(out, /Bob goes offline/);
    const dir = /removed (\S+)\.$/m.exec(out)?.[1];
    assert.ok(dir !== undefined && !existsSync(dir), 'the interrupted demo removes its directory');
  });
});
