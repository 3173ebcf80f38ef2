import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';

const root = new URL('../../../', import.meta.url).pathname;

function sim(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'apps/sim/src/main.ts', ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('npm run sim', () => {
  it('prints SEED, one row per seed, and exits 0 when every seed passes (twice, with --check-determinism)', () => {
    const { status, stdout } = sim('reliable', '--seed', '1', '--seeds', '2', '--check-determinism');
    assert.equal(status, 0, stdout);
    assert.match(stdout, /^SEED=1 \(seeds 1…2\)$/m);
    assert.match(stdout, /^\s+1\s+16\s+\d+.*\s+ok$/m);
    assert.match(stdout, /^\s+2\s+16\s+\d+.*\s+ok$/m);
    assert.match(stdout, /all 2 seeds passed/);
  });

  it('prints what failed and the exact command that reproduces it, and exits 1', () => {
    const { status, stdout } = sim('broken-no-dedupe', '--seed', '3');
    assert.equal(status, 1, stdout);
    assert.match(stdout, /^SEED=3$/m);
    assert.match(stdout, /messages delivered more than once/);
    assert.match(stdout, /reproduce: npm run sim -- broken-no-dedupe --seed 3 --nodes 16$/m);
  });

  it('explains a bad argument in one sentence, lists the scenarios, and exits 2', () => {
    const unknown = sim('no-such-scenario');
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /There is no scenario "no-such-scenario"/);
    assert.match(unknown.stderr, /^ {2}swarm /m);
    const badSeed = sim('reliable', '--seed', 'soon');
    assert.equal(badSeed.status, 2);
    assert.match(badSeed.stderr, /--seed takes a non-negative integer, got "soon"\./);
    const tooFew = sim('reliable', '--seed', '1', '--nodes', '1');
    assert.equal(tooFew.status, 2);
    assert.match(tooFew.stderr, /^This scenario needs at least 2 nodes, got 1\.$/m);
  });
});
