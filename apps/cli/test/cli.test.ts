import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';

// Runs the real command as a person would (through tsx, as `npm start` does).
const root = new URL('../../..', import.meta.url).pathname;
const dataDir = mkdtempSync(join(tmpdir(), 'postern-cli-'));
after(() => rmSync(dataDir, { recursive: true, force: true }));

function postern(...args: string[]) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'apps/cli/src/main.ts', ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, POSTERN_DATA_DIR: dataDir },
    timeout: 60_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('the postern command', () => {
  it('creates an identity on start, loads it on the next start, and shows it with id', () => {
    const first = postern('start', '--label', 'Alice');
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /Created a new Postern identity/);
    const id = /messaging id:\s+(postern1\S+)/.exec(first.stdout)?.[1];
    assert.ok(id);
    const second = postern('start');
    assert.match(second.stdout, /Loaded your Postern identity/);
    assert.ok(second.stdout.includes(id));
    assert.equal(postern('id').stdout.trim(), `Alice  ${id}`);
    assert.deepEqual(JSON.parse(postern('id', '--json').stdout), { label: 'Alice', messagingId: id, seq: 0 });
  });

  it('exports the public identity document and never prints a secret', () => {
    const exported = postern('id', '--export');
    assert.equal(exported.code, 0);
    assert.equal((JSON.parse(exported.stdout) as { type: string }).type, 'Identity');
    const secret = JSON.parse(readFileSync(join(dataDir, 'identity.secret.json'), 'utf8')) as Record<
      string,
      string
    >;
    for (const output of [postern('start').stdout, exported.stdout, postern('id', '--json').stdout]) {
      assert.ok(!output.includes(secret['signingSeed'] as string));
      assert.ok(!output.includes(secret['encryptionSecret'] as string));
    }
  });

  it('answers a label that breaks the rules with one sentence, not a stack trace', () => {
    const result = postern('start', '--data', join(dataDir, 'other'), '--label', ' ');
    assert.equal(result.code, 1);
    assert.equal(
      result.stderr.trim(),
      "postern: the identity's label starts or ends with a space — choose another with --label NAME",
    );
  });

  it('answers a missing identity with one sentence and exit code 1', () => {
    const result = postern('id', '--data', join(dataDir, 'nowhere'));
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^postern: no identity in .* run `npm start`/);
    assert.equal(result.stderr.trim().split('\n').length, 1);
  });
});
