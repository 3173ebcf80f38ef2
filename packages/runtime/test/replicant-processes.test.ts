import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ChildJsonLines } from '@postern/testkit';

// Alice, Bob and Carol as three OS processes, each with its own SQLite database, over loopback TCP.
// Bob nominates Carol; Carol accepts; Bob goes offline; Alice sends; Carol stores it; Carol is
// killed with -9 and restarted; Bob comes back: he has the message once, Alice sees "delivered".
const FIXTURE = new URL('fixtures/node-process.ts', import.meta.url).pathname;
/** Every wait for a node to do something is bounded by this (real time: these are real processes). */
const WAIT_MS = 60_000;
/** Messages sent while the recipient is away, in the kill -9 test. */
const BURST = 40;

type Line = Record<string, unknown> & { type: string };

class NodeProcess {
  readonly #io: ChildJsonLines<Line>;
  ready: Line | undefined;

  readonly name: string;
  readonly dataDir: string;

  constructor(name: string, dataDir: string) {
    this.name = name;
    this.dataDir = dataDir;
    this.#io = new ChildJsonLines<Line>(name, WAIT_MS);
  }

  /** Every line it printed, across restarts. */
  get lines(): Line[] {
    return this.#io.lines;
  }

  async start(port: number, seeds: readonly string[] = [], flags: readonly string[] = []): Promise<Line> {
    const args = [
      '--import',
      'tsx',
      FIXTURE,
      '--data',
      this.dataDir,
      '--label',
      this.name,
      '--port',
      String(port),
    ];
    for (const seed of seeds) args.push('--seed', seed);
    args.push(...flags);
    const from = this.lines.length;
    this.#io.attach(spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'] }));
    this.ready = await this.waitFor((l) => l.type === 'ready', from);
    return this.ready;
  }

  get address(): string {
    return this.ready?.['address'] as string;
  }

  get id(): string {
    return this.ready?.['id'] as string;
  }

  get port(): number {
    return Number(this.address.split(':').pop());
  }

  /** The first line from `from` on that matches (bounded by WAIT_MS). */
  waitFor(match: (line: Line) => boolean, from = 0): Promise<Line> {
    return this.#io.waitFor(match, from);
  }

  /** Writes a command without waiting for it to be done. */
  fire(command: Record<string, unknown>): void {
    this.#io.child?.stdin?.write(`${JSON.stringify(command)}\n`);
  }

  async command(command: Record<string, unknown>): Promise<unknown> {
    const from = this.lines.length;
    this.#io.child?.stdin?.write(`${JSON.stringify(command)}\n`);
    const done = await this.waitFor((l) => l.type === 'done' && l['cmd'] === command['cmd'], from);
    return done['result'];
  }

  /** kill -9: no chance to flush or close anything. */
  async kill(): Promise<void> {
    await this.#io.kill('SIGKILL');
  }
}

describe('replicants across processes with SQLite', () => {
  const root = mkdtempSync(join(tmpdir(), 'postern-replicants-'));
  const [alice, bob, carol] = ['alice', 'bob', 'carol'].map((n) => new NodeProcess(n, join(root, n))) as [
    NodeProcess,
    NodeProcess,
    NodeProcess,
  ];

  after(async () => {
    await Promise.all([alice.kill(), bob.kill(), carol.kill()]);
    rmSync(root, { recursive: true, force: true });
  });

  async function befriend(a: NodeProcess, b: NodeProcess): Promise<void> {
    for (const [x, y] of [
      [a, b],
      [b, a],
    ] as const) {
      const added = await x.command({
        cmd: 'add-contact',
        document: y.ready?.['document'],
        node: y.ready?.['node'],
        address: y.address,
      });
      assert.equal(added, 'ok');
    }
  }

  /** Bob nominates Carol, Carol accepts, and Alice hears of it from Bob's new presence (with the ticket). */
  async function nominate(a: NodeProcess, b: NodeProcess, c: NodeProcess): Promise<Line> {
    const seen = b.lines.length;
    const heard = a.lines.length;
    await b.command({ cmd: 'nominate', id: c.id });
    await c.waitFor((l) => l.type === 'nomination-request' && l['user'] === b.id);
    await c.command({ cmd: 'accept', id: b.id });
    const changed = await b.waitFor((l) => l.type === 'identity-changed', seen);
    await a.waitFor((l) => l.type === 'contact-online' && l['id'] === b.id, heard);
    assert.equal(await a.command({ cmd: 'tickets', id: b.id }), 1, 'Alice holds Carol’s ticket for Bob');
    return changed;
  }

  it('delivers through a replicant killed with -9 in between, exactly once, and the sender sees "delivered"', async () => {
    await alice.start(0);
    await Promise.all([bob.start(0, [alice.address]), carol.start(0, [alice.address])]);
    await befriend(alice, bob);
    await befriend(bob, carol);

    const changed = await nominate(alice, bob, carol);
    assert.deepEqual(changed['replicants'], [carol.id]);

    await bob.kill();
    const key = (await alice.command({
      cmd: 'send',
      to: bob.id,
      text: 'hello while you were away',
    })) as string;
    await alice.waitFor((l) => l.type === 'outbox' && l['key'] === key && l['state'] === 'stored');
    assert.equal(await carol.command({ cmd: 'held' }), 1);

    const carolPort = carol.port;
    await carol.kill();
    await carol.start(carolPort, [alice.address]);
    assert.equal(await carol.command({ cmd: 'held' }), 1, 'the acknowledged envelope survived kill -9');

    const bobPort = bob.port;
    const before = bob.lines.length;
    await bob.start(bobPort, [alice.address]);
    const message = await bob.waitFor((l) => l.type === 'message', before);
    assert.equal(message['text'], 'hello while you were away');
    assert.equal(message['from'], alice.id);
    await alice.waitFor((l) => l.type === 'outbox' && l['key'] === key && l['state'] === 'delivered');
    await carol.waitFor((l) => l.type === 'held' && l['change'] === 'delivered');

    assert.deepEqual(await bob.command({ cmd: 'inbox' }), ['hello while you were away']);
    assert.equal(
      bob.lines.filter((l) => l.type === 'message').length,
      1,
      'delivered to the application once',
    );
    assert.equal(await carol.command({ cmd: 'held' }), 0, 'Carol deleted it on Bob’s receipt');
  });

  it('keeps every envelope it acknowledged when killed with -9 in the middle of a burst', async () => {
    const [a, b, c] = ['alice', 'bob', 'carol'].map((n) => new NodeProcess(n, join(root, `burst-${n}`))) as [
      NodeProcess,
      NodeProcess,
      NodeProcess,
    ];
    try {
      await a.start(0, [], ['--fast']);
      await Promise.all([b.start(0, [a.address], ['--fast']), c.start(0, [a.address], ['--fast'])]);
      await befriend(a, b);
      await befriend(b, c);
      await nominate(a, b, c);
      await b.kill();

      const from = a.lines.length;
      for (let i = 0; i < BURST; i++) a.fire({ cmd: 'send', to: b.id, text: `burst ${i}` });
      // Carol is killed once a quarter of the burst is acknowledged: in the middle of it.
      const stored = (l: Line) => l.type === 'outbox' && l['state'] === 'stored';
      await a.waitFor((l) => stored(l) && a.lines.filter(stored).length >= BURST / 4);
      const port = c.port;
      await c.kill();
      const acked = new Set(a.lines.filter(stored).map((l) => l['key'] as string));
      console.log(`carol killed after acknowledging ${acked.size} of ${BURST}`);
      await c.start(port, [a.address], ['--fast']);
      const held = new Set((await c.command({ cmd: 'held-keys' })) as string[]);
      const lost = [...acked].filter((key) => !held.has(key));
      assert.deepEqual(lost, [], `every envelope Carol acknowledged (${acked.size}) survived kill -9`);

      const sent = (l: Line) => l.type === 'done' && l['cmd'] === 'send';
      await a.waitFor(() => a.lines.slice(from).filter(sent).length >= BURST, from);
      const keys = a.lines
        .slice(from)
        .filter(sent)
        .map((l) => l['result'] as string);
      assert.equal(new Set(keys).size, BURST);
      // Alice tries again what was not acknowledged; Bob comes back and gets every message once.
      for (const key of keys) await a.waitFor((l) => stored(l) && l['key'] === key);
      await b.start(b.port, [a.address], ['--fast']);
      for (const key of keys)
        await a.waitFor((l) => l.type === 'outbox' && l['key'] === key && l['state'] === 'delivered');
      const texts = ((await b.command({ cmd: 'inbox' })) as string[]).sort();
      assert.deepEqual(texts, keys.map((_, i) => `burst ${i}`).sort());
      assert.equal(
        b.lines.filter((l) => l.type === 'message').length,
        BURST,
        'each reached the application once',
      );
    } finally {
      await Promise.all([a.kill(), b.kill(), c.kill()]);
    }
  });
});
