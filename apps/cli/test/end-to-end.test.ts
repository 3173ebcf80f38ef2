// Postern end to end, as separate processes on loopback: Alice, Bob and Carol nodes (the postern
// command, SQLite in each data directory) and relay processes on one PostgreSQL database (the server
// of POSTERN_PG_URL, or PGlite behind a socket). Bob is offline while Alice writes to him: first
// Carol, his replicant, holds the message; then, with Carol offline too, Alice's relay does, and a
// second relay process on the same database lists the same record. Last, Bob is killed with -9 while
// twenty messages reach him, and restarted: each arrives, once.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createSodiumProvider } from '@postern/crypto';
import { RelayClient, loadIdentity } from '@postern/runtime';
import {
  REAL_PG_URL,
  type TestDatabase,
  openTestDatabase,
} from '../../../packages/runtime/test/pg-harness.ts';
import {
  type Running,
  api,
  DiskChanges,
  killAll,
  posternAsync as postern,
  startNode,
  startRelay,
} from './processes.ts';

const crypto = createSodiumProvider();
const base = mkdtempSync(join(tmpdir(), 'postern-e2e-'));
const dirs = { alice: join(base, 'alice'), bob: join(base, 'bob'), carol: join(base, 'carol') };
const disk = new DiskChanges(base);
const eventually = disk.until.bind(disk);
let db: TestDatabase;
before(async () => {
  db = await openTestDatabase(REAL_PG_URL === undefined ? 'pglite' : 'postgresql');
});
after(async () => {
  disk.close();
  await killAll();
  await db?.close();
  rmSync(base, { recursive: true, force: true });
});

interface Message {
  key: string;
  from: string;
  text: string;
  via: string;
}

const inbox = () => api<Message[]>(dirs.bob, '/v1/inbox');
const held = async (dir: string) => (await api<{ duties: { held: number } }>(dir, '/v1/status')).duties.held;
const stateOf = async (key: string) => (await api<{ state: string }>(dirs.alice, `/v1/outbox/${key}`)).state;
/** A node started again on the ports it had, as a person's node is (contacts know those). */
const restart = (dir: string, label: string, before: Running) =>
  startNode(
    dir,
    label,
    ...before.listening.flatMap((a, i) => [i === 0 ? '--port' : '--ws-port', /:(\d+)$/.exec(a)?.[1] ?? '0']),
  );
const ok = (result: { code: number | null; stderr: string }) => assert.equal(result.code, 0, result.stderr);

describe('Postern end to end (processes, SQLite, PostgreSQL relays)', () => {
  it('delivers to an offline recipient through his replicant, through a relay, and across a kill -9', async () => {
    const pg = ['--pg', db.url, ...(db.schema === undefined ? [] : ['--pg-schema', db.schema])];
    console.log(`relays on ${db.kind}`);
    const relay1 = await startRelay('relay-1', pg);
    let alice = await startNode(dirs.alice, 'Alice');
    let bob = await startNode(dirs.bob, 'Bob');
    let carol = await startNode(dirs.carol, 'Carol');
    ok(await postern('contacts', 'add', bob.ready.card, '--data', dirs.alice));
    ok(await postern('contacts', 'add', alice.ready.card, '--data', dirs.bob));
    ok(await postern('contacts', 'add', carol.ready.card, '--data', dirs.bob));
    ok(await postern('contacts', 'add', bob.ready.card, '--data', dirs.carol));
    ok(await postern('relay', 'accounts', 'open', alice.ready.card, ...pg));
    ok(await postern('relays', 'add', relay1.address, '--data', dirs.alice));
    ok(await postern('replicants', 'nominate', 'Carol', '--data', dirs.bob));
    await eventually('Carol to hear the nomination', async () =>
      (await postern('replicants', 'requests', '--data', dirs.carol)).stdout.includes('Bob asks'),
    );
    ok(await postern('replicants', 'accept', 'Bob', '--data', dirs.carol));
    await eventually("Alice to learn of Bob's replicant", async () =>
      (await api<{ name: string; replicants: number }[]>(dirs.alice, '/v1/contacts')).some(
        (c) => c.replicants === 1,
      ),
    );

    // 1. Through the replicant: Bob offline, Carol holds it, Bob returns.
    assert.equal(await bob.lines.kill('SIGINT'), 0);
    const first = await api<{ key: string }>(dirs.alice, '/v1/send', { to: 'Bob', text: 'one' });
    await eventually('Carol to hold the message', async () => (await held(dirs.carol)) === 1);
    bob = await restart(dirs.bob, 'Bob', bob.ready);
    await eventually('"one" to reach Bob', async () => (await inbox()).some((m) => m.text === 'one'));
    await eventually('"one" to be delivered', async () => (await stateOf(first.key)) === 'delivered');

    // 2. Through the relay: Bob and Carol offline; stored by the relay; Alice goes offline too.
    assert.equal(await bob.lines.kill('SIGINT'), 0);
    assert.equal(await carol.lines.kill('SIGINT'), 0);
    const second = await api<{ key: string }>(dirs.alice, '/v1/send', { to: 'Bob', text: 'two' });
    await eventually('the relay to store "two"', async () => (await stateOf(second.key)) === 'stored');
    // A second relay process on the same database serves the same record (here: lists it to Bob).
    const relay2 = await startRelay('relay-2', pg);
    const bobKey = loadIdentity(crypto, dirs.bob);
    const key = { publicKey: bobKey.messagingId, secretKey: bobKey.signingKey.expose() };
    const client = await RelayClient.connect(relay2.address, { crypto, key });
    const aliceText = Buffer.from(loadIdentity(crypto, dirs.alice).messagingId).toString('base64url');
    // A listen lists what is stored at once (no settling delay), then pushes what comes.
    await new Promise<void>((resolve, reject) => {
      const signal = AbortSignal.timeout(60_000);
      signal.addEventListener('abort', () => reject(new Error('relay 2 did not list the record')));
      void client.listen(0, (paths) => {
        if (paths.some((path) => path.includes(aliceText))) resolve();
      });
    });
    await client.close();
    assert.equal(await alice.lines.kill('SIGINT'), 0);
    bob = await restart(dirs.bob, 'Bob', bob.ready);
    await eventually('"two" to reach Bob from the relay', async () =>
      (await inbox()).some((m) => m.text === 'two' && m.via === 'relay'),
    );

    // 3. Bob killed with -9 while twenty messages reach him, then restarted.
    alice = await restart(dirs.alice, 'Alice', alice.ready);
    carol = await restart(dirs.carol, 'Carol', carol.ready);
    await eventually('Alice to see Bob online', async () =>
      (await api<{ name: string; online: boolean }[]>(dirs.alice, '/v1/contacts')).some((c) => c.online),
    );
    const texts = Array.from({ length: 20 }, (_, i) => `burst ${i}`);
    const keys: string[] = [];
    for (const [i, text] of texts.entries()) {
      keys.push((await api<{ key: string }>(dirs.alice, '/v1/send', { to: 'Bob', text })).key);
      if (i === 5) await bob.lines.kill('SIGKILL');
    }
    bob = await restart(dirs.bob, 'Bob', bob.ready);
    await eventually(
      'every burst message to be delivered',
      async () => {
        const states = await Promise.all(keys.map(stateOf));
        return states.every((state) => state === 'delivered');
      },
      90,
    );
    const got = (await inbox()).map((m) => m.text);
    assert.deepEqual([...got].sort(), ['one', 'two', ...texts].sort(), 'every message is there: none lost');
    // None delivered twice: Bob reads (removes) them all and restarts, which makes every path try
    // again — Alice's presence exchange, Carol's duty, the relay's listen backfill. Nothing may
    // come back into the inbox.
    for (const m of await inbox()) await api(dirs.bob, '/v1/inbox/remove', { key: m.key });
    assert.equal(await bob.lines.kill('SIGINT'), 0);
    bob = await restart(dirs.bob, 'Bob', bob.ready);
    await eventually('Alice and Carol to see Bob online again', async () => {
      const online = async (dir: string) =>
        (await api<{ name: string; online: boolean }[]>(dir, '/v1/contacts')).some(
          (c) => c.name === 'Bob' && c.online,
        );
      return (await online(dirs.alice)) && (await online(dirs.carol));
    });
    // A last message, sent after the restart: once it is in, Alice's earlier ones would be too (one
    // link, in order); Carol holds nothing more to hand over.
    await api(dirs.alice, '/v1/send', { to: 'Bob', text: 'last' });
    await eventually('"last" to reach Bob', async () => (await inbox()).some((m) => m.text === 'last'));
    assert.equal(await held(dirs.carol), 0);
    assert.deepEqual(
      (await inbox()).map((m) => m.text),
      ['last'],
      'no message delivered a second time',
    );
    await relay1.lines.kill('SIGTERM');
    await relay2.lines.kill('SIGTERM');
  });
});
