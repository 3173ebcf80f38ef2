import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { bytesEqual, toBase64url } from '@postern/core';
import { createSodiumProvider } from '@postern/crypto';
import { formatPath } from '@postern/relay';
import { ChildJsonLines } from '@postern/testkit';
import { RelayClient, SqliteRelayStore } from '@postern/runtime';
import { REAL_PG_URL, openTestDatabase } from '../../../packages/runtime/test/pg-harness.ts';
import { ConfigError, type RelayConfig, resolveConfig, showPublicKey, syncAllowList } from '../src/index.ts';

const crypto = createSodiumProvider();
const MAIN = new URL('../src/main.ts', import.meta.url).pathname;
const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'postern-relay-app-'));
  dirs.push(dir);
  return dir;
}
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('relay configuration', () => {
  it('takes each setting from the command line, else the environment, else the file, else the default', () => {
    const file = join(tempDir(), 'relay.json');
    writeFileSync(file, JSON.stringify({ port: 7801, host: '::1', quotaRecords: 5, pullsPerRecord: 3 }));
    const env = { POSTERN_RELAY_PORT: '7802', POSTERN_RELAY_QUOTA_RECORDS: '6', POSTERN_DATA_DIR: '/d' };
    const config = resolveConfig({ config: file, port: '7803' }, env);
    assert.equal(config.port, 7803);
    assert.equal(config.quotaRecords, 6);
    assert.equal(config.pullsPerRecord, 3);
    assert.equal(config.host, '::1');
    assert.equal(config.data, '/d/relay');
    assert.equal(config.pg, undefined);
  });

  it('says which setting is wrong and why', () => {
    const file = join(tempDir(), 'relay.json');
    writeFileSync(file, JSON.stringify({ prot: 1 }));
    assert.throws(
      () => resolveConfig({ config: file }, {}),
      (e: Error) => e instanceof ConfigError && /unknown setting "prot"/.test(e.message),
    );
    writeFileSync(file, '{ not json');
    assert.throws(() => resolveConfig({ config: file }, {}), /is not JSON/);
    assert.throws(() => resolveConfig({ port: '70000' }, {}), /port must be a port number/);
    assert.throws(() => resolveConfig({ quotaBytes: '-1' }, {}), /quotaBytes must be a positive integer/);
    assert.throws(
      () => resolveConfig({ config: join(tempDir(), 'missing.json') }, {}),
      /cannot read the config file/,
    );
  });

  it('keeps the accounts of an allow-list open, and closes those taken off it', async () => {
    const dir = tempDir();
    const keys = [1, 2, 3].map(() => crypto.ed25519KeyPairFromSeed(crypto.randomBytes(32)).publicKey);
    const list = join(dir, 'allow.txt');
    writeFileSync(
      list,
      `# writers\n${showPublicKey(keys[0]!)}\n\n${toBase64url(keys[1]!)}  # base64url works too\n`,
    );
    const store = new SqliteRelayStore(join(dir, 'relay.db'));
    const config: RelayConfig = { ...resolveConfig({ data: dir }, {}), allowList: list };
    const log = () => {};
    await store.openAccount(keys[2]!, { recordsMax: 1, bytesMax: 1 }, 'operator', 1);
    await syncAllowList(store, config, log, 2);
    assert.equal((await store.account(keys[0]!))?.active, true);
    assert.equal((await store.account(keys[1]!))?.source, 'allow-list');
    writeFileSync(list, `${showPublicKey(keys[1]!)}\n`);
    await syncAllowList(store, config, log, 3);
    assert.equal((await store.account(keys[0]!))?.active, false, 'taken off the list');
    assert.equal((await store.account(keys[1]!))?.active, true);
    assert.equal(
      (await store.account(keys[2]!))?.active,
      true,
      "an operator account is not the list's to close",
    );
    writeFileSync(list, `${showPublicKey(keys[2]!)}\n`);
    await store.closeAccount(keys[2]!, 4, 'operator');
    await syncAllowList(store, config, log, 5);
    assert.equal(
      (await store.account(keys[2]!))?.active,
      false,
      'an account the operator closed stays closed',
    );
    assert.equal((await store.account(keys[2]!))?.recordsMax, 1, 'and keeps its quota');
    // An allow-list account the operator closed by hand is the operator's from then on.
    writeFileSync(list, `${showPublicKey(keys[1]!)}\n`);
    await syncAllowList(store, config, log, 6);
    assert.equal((await store.account(keys[1]!))?.active, true);
    assert.equal(await store.closeAccount(keys[1]!, 6, 'operator'), true);
    await syncAllowList(store, config, log, 7);
    assert.equal((await store.account(keys[1]!))?.active, false, 'not reopened by the list');
    writeFileSync(list, 'not-a-key\n');
    await assert.rejects(
      syncAllowList(store, config, log, 4),
      /allow.txt:1: "not-a-key" is not a public key/,
    );
    await store.close();
  });
});

/** A relay process and its JSON log lines. */
class RelayProcess {
  readonly #io = new ChildJsonLines('relay');

  constructor(args: string[]) {
    this.#io.attach(
      spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }),
    );
  }

  get lines(): Record<string, unknown>[] {
    return this.#io.lines;
  }

  event(name: string): Promise<Record<string, unknown>> {
    return this.#io.waitFor((line) => line['event'] === name);
  }

  /** kill -9: no chance to flush or close anything. */
  async kill(): Promise<void> {
    await this.#io.kill('SIGKILL');
  }

  stop(): Promise<number | null> {
    return this.#io.kill('SIGTERM');
  }
}

describe('relay process', () => {
  it('starts with one command, serves a client, reports metrics, and stops cleanly on SIGTERM', async () => {
    const dir = tempDir();
    const alice = crypto.ed25519KeyPairFromSeed(crypto.randomBytes(32));
    const bob = crypto.ed25519KeyPairFromSeed(crypto.randomBytes(32));
    writeFileSync(join(dir, 'allow.txt'), `${showPublicKey(alice.publicKey)}\n`);
    const relay = new RelayProcess([
      'start',
      '--data',
      dir,
      '--port',
      '0',
      '--allow-list',
      join(dir, 'allow.txt'),
    ]);
    const started = await relay.event('started');
    const address = started['address'] as string;
    const a = await RelayClient.connect(address, { crypto, key: alice });
    const b = await RelayClient.connect(address, { crypto, key: bob, form: 'cbor' });
    const recordId = crypto.randomBytes(16);
    await a.write(bob.publicKey, { recordId, ttl: 60_000, tag: 'msg', content: new Uint8Array([42]) });
    const record = await b.read(formatPath({ receiver: bob.publicKey, sender: alice.publicKey, recordId }));
    assert.ok(record !== null && bytesEqual(record.request.content, new Uint8Array([42])));
    const metrics = await (await fetch(started['metrics'] as string)).text();
    assert.match(metrics, /postern_relay_writes_total 1/);
    assert.match(metrics, /postern_relay_connections_active 2/);
    await a.close();
    await b.close();
    assert.equal(await relay.stop(), 0);
    assert.ok(relay.lines.some((line) => line['event'] === 'stopped'));
  });
});

describe('relay durability', () => {
  it('keeps every write it acknowledged when killed with -9 in the middle of a burst', async () => {
    const dir = tempDir();
    const alice = crypto.ed25519KeyPairFromSeed(crypto.randomBytes(32));
    const bob = crypto.ed25519KeyPairFromSeed(crypto.randomBytes(32));
    writeFileSync(join(dir, 'allow.txt'), `${showPublicKey(alice.publicKey)}\n`);
    const args = ['start', '--data', dir, '--port', '0', '--allow-list', join(dir, 'allow.txt')];
    const first = new RelayProcess(args);
    const writer = await RelayClient.connect((await first.event('started'))['address'] as string, {
      crypto,
      key: alice,
      requestTimeoutMs: 60_000,
    });
    const acknowledged: Uint8Array[] = [];
    let killing: Promise<void> | undefined;
    const writes = Array.from({ length: 400 }, async () => {
      const recordId = crypto.randomBytes(16);
      try {
        await writer.write(bob.publicKey, {
          recordId,
          ttl: 600_000,
          tag: 'msg',
          content: crypto.randomBytes(300),
        });
        acknowledged.push(recordId);
        if (acknowledged.length === 100) killing = first.kill();
      } catch {
        // unanswered when the relay died: the sender would retry it
      }
    });
    await Promise.all(writes);
    await killing;
    await writer.close();
    assert.ok(acknowledged.length >= 100, `${acknowledged.length} acknowledged before the kill`);
    const second = new RelayProcess(args);
    const reader = await RelayClient.connect((await second.event('started'))['address'] as string, {
      crypto,
      key: bob,
    });
    for (const recordId of acknowledged) {
      const record = await reader.read(
        formatPath({ receiver: bob.publicKey, sender: alice.publicKey, recordId }),
      );
      assert.ok(record !== null, 'an acknowledged write survived kill -9');
    }
    await reader.close();
    assert.equal(await second.stop(), 0);
  });
});

describe('relay processes sharing one PostgreSQL database', () => {
  const skip =
    REAL_PG_URL === undefined
      ? 'set POSTERN_PG_URL (pglite-socket forwards no NOTIFY between connections)'
      : false;
  it(
    'serves through one process what was written through another, and pushes it to a listener there',
    { skip },
    async () => {
      const db = await openTestDatabase('postgresql');
      const alice = crypto.ed25519KeyPairFromSeed(crypto.randomBytes(32));
      const bob = crypto.ed25519KeyPairFromSeed(crypto.randomBytes(32));
      const list = join(tempDir(), 'allow.txt');
      writeFileSync(list, `${showPublicKey(alice.publicKey)}\n`);
      const args = [
        'start',
        '--pg',
        db.url,
        '--pg-schema',
        db.schema ?? 'public',
        '--port',
        '0',
        '--allow-list',
        list,
      ];
      const one = new RelayProcess(args);
      const two = new RelayProcess(args);
      try {
        const [first, second] = await Promise.all([one.event('started'), two.event('started')]);
        assert.equal(first['relayKey'], second['relayKey'], 'one relay, one key, two processes');
        const writer = await RelayClient.connect(first['address'] as string, { crypto, key: alice });
        const reader = await RelayClient.connect(second['address'] as string, { crypto, key: bob });
        const recordId = crypto.randomBytes(16);
        const path = formatPath({ receiver: bob.publicKey, sender: alice.publicKey, recordId });
        let hear: (paths: readonly string[]) => void = () => {};
        const heard = new Promise<readonly string[]>((resolve) => (hear = resolve));
        // The relay answers a listen once it is registered: what is written after is pushed.
        assert.equal(await reader.listen(Date.now(), (paths) => hear(paths)), true);
        await writer.write(bob.publicKey, {
          recordId,
          ttl: 60_000,
          tag: 'msg',
          content: new Uint8Array([7]),
        });
        assert.deepEqual(await heard, [path]);
        const record = await reader.read(path);
        assert.ok(record !== null && bytesEqual(record.request.content, new Uint8Array([7])));
        await writer.close();
        await reader.close();
      } finally {
        await Promise.all([one.stop(), two.stop()]);
        await db.close();
      }
    },
  );
});
