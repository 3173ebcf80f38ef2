import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ESLint, Linter } from 'eslint';

// The sans-I/O rule (STYLE.md) is enforced by lint, not review: this pins which files it covers.
const root = new URL('../../..', import.meta.url).pathname;
const eslint = new ESLint({ cwd: root });

async function restrictedGlobals(file: string): Promise<string[]> {
  const config = (await eslint.calculateConfigForFile(file)) as { rules?: Record<string, unknown[]> };
  const rule = config.rules?.['no-restricted-globals'] ?? [];
  return rule.slice(1).map((entry) => (entry as { name: string }).name);
}

describe('the sans-I/O lint rule', () => {
  it('forbids clocks, timers, process and global randomness in foundation and protocol packages', async () => {
    for (const file of [
      'packages/core/src/rng.ts',
      'packages/envelope/src/envelope.ts',
      'packages/kademlia/src/machine.ts',
    ]) {
      const globals = await restrictedGlobals(file);
      for (const name of ['Date', 'setTimeout', 'setInterval', 'process', 'crypto'])
        assert.ok(globals.includes(name), `${file}: ${name}`);
    }
  });

  it('leaves the runtime, the sodium provider file and tests free to do I/O', async () => {
    for (const file of [
      'packages/runtime/src/identity-file.ts',
      'packages/crypto/src/sodium-provider.ts',
      'packages/core/test/rng.test.ts',
    ]) {
      assert.deepEqual(await restrictedGlobals(file), [], file);
    }
  });

  it('reports an I/O import, a clock read and global randomness in a protocol file', async () => {
    // The restriction rules exactly as configured for a protocol file, run on a fixture.
    const config = (await eslint.calculateConfigForFile('packages/core/src/rng.ts')) as {
      rules: Record<string, unknown>;
    };
    const names = ['no-restricted-imports', 'no-restricted-globals', 'no-restricted-properties'];
    const rules = Object.fromEntries(names.map((name) => [name, config.rules[name]])) as Linter.RulesRecord;
    const messages = new Linter().verify(
      "import { readFileSync } from 'node:fs';\nexport const t = Date.now() + Math.random();\nexport const r = readFileSync;\n",
      { languageOptions: { sourceType: 'module' }, rules },
    );
    assert.deepEqual(messages.map((m) => m.ruleId).sort(), [...names].sort());
  });
});
