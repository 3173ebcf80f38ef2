import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { IdPrefix, encodeIdText } from '@postern/core';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { killAll, postern, spawnPostern, startNode } from './processes.ts';

// Runs the real command as a person would (through tsx, as `npm start` does): nodes as background
// processes on loopback with any free ports, and each command as its own process.
const base = mkdtempSync(join(tmpdir(), 'postern-cli-'));
after(async () => {
  await killAll();
  rmSync(base, { recursive: true, force: true });
});

describe('the postern command', () => {
  it('runs a node: an identity on first run, the same one next time, a clean stop on Ctrl-C', async () => {
    const dir = join(base, 'alice');
    const first = await startNode(dir, 'Alice');
    assert.match(first.ready.messagingId, /^postern1/);
    assert.equal(first.ready.addresses.length, 2); // TCP and WebSocket
    const id = JSON.parse(postern('id', '--json', '--data', dir).stdout) as Record<string, unknown>;
    assert.deepEqual(id, {
      label: 'Alice',
      messagingId: first.ready.messagingId,
      seq: 0,
      node: first.ready.node,
      addresses: first.ready.addresses,
    });
    const card = JSON.parse(postern('id', '--export', '--data', dir).stdout) as {
      type: string;
      addrs: string[];
    };
    assert.equal(card.type, 'ContactCard');
    assert.deepEqual(card.addrs, first.ready.addresses);
    assert.equal(await first.lines.kill('SIGINT'), 0);
    assert.ok(first.lines.lines.some((line) => line.event === 'stopped'));
    assert.ok(!existsSync(join(dir, 'api.json')), 'a stopped node leaves no API files');
    const again = await startNode(dir, 'Someone else');
    assert.equal(again.ready.messagingId, first.ready.messagingId);
    // One Ctrl-C often arrives twice (the terminal's, and a copy forwarded by npm): the repeat, and a
    // SIGTERM, reach a node already stopping, and must not cut its stop short.
    const exited = again.lines.kill('SIGINT');
    await again.lines.waitFor((line) => line.event === 'stopping');
    process.kill(again.ready.pid, 'SIGINT');
    process.kill(again.ready.pid, 'SIGTERM');
    assert.equal(await exited, 0);
    assert.ok(again.lines.lines.some((line) => line.event === 'stopped'));
    assert.ok(!existsSync(join(dir, 'api.json')), 'a node stopped by repeated signals leaves no API files');
  });

  it('exchanges contact cards between two nodes and delivers a message, shown in the inbox', async () => {
    const [a, b] = [join(base, 'two-a'), join(base, 'two-b')];
    const alice = await startNode(a, 'Alice');
    const bob = await startNode(b, 'Bob');
    assert.equal(postern('contacts', 'add', bob.ready.card, '--data', a).code, 0);
    assert.equal(postern('contacts', 'add', alice.ready.card, '--name', 'Al', '--data', b).code, 0);
    const listed = JSON.parse(postern('contacts', 'list', '--json', '--data', a).stdout) as {
      name: string;
    }[];
    assert.deepEqual(
      listed.map((c) => c.name),
      ['Bob'],
    );
    const sent = postern('send', 'bob', 'hello Bob', '--wait', '--timeout', '30', '--data', a);
    assert.equal(sent.code, 0, sent.stderr);
    assert.match(sent.stdout, /to Bob: delivered/);
    const inbox = JSON.parse(postern('inbox', '--json', '--data', b).stdout) as {
      from: string;
      text: string;
      via: string;
    }[];
    assert.deepEqual(
      inbox.map((m) => [m.from, m.text, m.via]),
      [['Al', 'hello Bob', 'direct']],
    );
    const status = JSON.parse(postern('status', '--json', '--data', b).stdout) as {
      contacts: number;
      inbox: number;
      peers: number;
    };
    assert.deepEqual([status.contacts, status.inbox, status.peers >= 1], [1, 1, true]);
    // `inbox --follow`: what is there, once, then each new message as it arrives, until Ctrl-C.
    const follow = spawnPostern('follow', ['inbox', '--follow', '--json', '--data', b]);
    await follow.waitFor((m) => m['text'] === 'hello Bob');
    assert.equal(postern('send', 'Bob', 'and again', '--data', a).code, 0);
    await follow.waitFor((m) => m['text'] === 'and again');
    assert.equal(await follow.kill('SIGINT'), 0);
    assert.deepEqual(
      follow.lines.map((m) => m['text']),
      ['hello Bob', 'and again'],
    );
    await alice.lines.kill('SIGINT');
    await bob.lines.kill('SIGINT');
  });

  it('answers mistakes with one sentence that says what to do, and the documented exit codes', async () => {
    const dir = join(base, 'mistakes');
    const node = await startNode(dir, 'Mia');
    const unknown = postern('send', 'zed', 'hi', '--data', dir);
    assert.equal(unknown.code, 1);
    assert.equal(unknown.stderr.trim(), 'postern: no contact named zed — see `postern contacts list`');
    const twice = postern('node', '--data', dir, '--port', '0', '--ws-port', '0');
    assert.equal(twice.code, 1);
    assert.match(twice.stderr, /^postern: a node is already running on .* — stop it first/);
    const taken = postern(
      'node',
      '--data',
      join(base, 'taken'),
      '--port',
      portOf(node.ready.addresses[0]),
      '--ws-port',
      '0',
    );
    assert.equal(taken.code, 1);
    assert.match(taken.stderr, /^postern: port \d+ is taken \(another node\?\) — choose others with --port/);
    const badCard = join(base, 'bad-card.json');
    writeFileSync(badCard, '{"type":"ContactCard","version":1}');
    const refused = postern('contacts', 'add', badCard, '--data', dir);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^postern: that is not a contact card: its identity document: /);
    await node.lines.kill('SIGINT');
    const stopped = postern('status', '--data', dir);
    assert.equal(stopped.code, 2);
    assert.match(stopped.stderr, /^postern: no node is running on .* — start it with `npm start`/);
    const label = postern(
      'node',
      '--data',
      join(base, 'label'),
      '--label',
      ' ',
      '--port',
      '0',
      '--ws-port',
      '0',
    );
    assert.equal(label.code, 1);
    assert.equal(
      label.stderr.trim(),
      "postern: the identity's label starts or ends with a space — choose another with --label NAME",
    );
    const none = postern('id', '--data', join(base, 'nowhere'));
    assert.equal(none.code, 1);
    assert.match(none.stderr, /^postern: no identity in .* run `npm start`/);
  });

  it('serves its local API only with the token from the data directory, and only as 127.0.0.1', async () => {
    const dir = join(base, 'api');
    const node = await startNode(dir, 'Api');
    const { url } = JSON.parse(readFileSync(join(dir, 'api.json'), 'utf8')) as { url: string };
    const token = readFileSync(join(dir, 'api.token'), 'utf8').trim();
    const status = (headers: Record<string, string>, path = '/v1/status', method = 'GET', body?: string) =>
      new Promise<number>((resolve, reject) => {
        const req = request(new URL(path, url), { method, headers }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end(body);
      });
    const auth = { authorization: `Bearer ${token}` };
    assert.equal(await status({}), 401);
    assert.equal(await status({ authorization: `Bearer ${'0'.repeat(64)}` }), 401);
    assert.equal(await status(auth), 200);
    assert.equal(await status({ ...auth, host: 'attacker.example:80' }), 403, 'DNS rebinding refused');
    assert.equal(await status(auth, '/v1/status', 'POST'), 405);
    assert.equal(await status(auth, '/v1/outbox/%E0%A4%A'), 400);
    assert.equal(await status(auth, '/v1/send', 'POST', 'x'.repeat(600_000)), 413);
    assert.equal(statSync(join(dir, 'api.token')).mode & 0o777, 0o600);
    await node.lines.kill('SIGINT');
  });

  it('starts over files left by a node killed with -9, even when their pid is another process', async () => {
    const dir = join(base, 'stale');
    const first = await startNode(dir, 'Stale');
    await first.lines.kill('SIGKILL');
    writeFileSync(join(dir, 'api.json'), JSON.stringify({ url: 'http://127.0.0.1:9/', pid: process.pid }));
    const silent = postern('status', '--data', dir);
    assert.equal(silent.code, 2);
    assert.match(silent.stderr, /does not answer — is the node still running\?/);
    const again = await startNode(dir, 'Stale');
    assert.equal(again.ready.messagingId, first.ready.messagingId);
    assert.equal(postern('status', '--data', dir).code, 0);
    await again.lines.kill('SIGINT');
  });

  it('keeps names usable and shows what others send without letting it drive the terminal', async () => {
    const [a, b] = [join(base, 'names-a'), join(base, 'names-b')];
    const alice = await startNode(a, 'Alice');
    const bob = await startNode(b, 'Bob');
    assert.equal(postern('contacts', 'add', bob.ready.card, '--data', a).code, 0);
    assert.equal(postern('contacts', 'add', alice.ready.card, '--data', b).code, 0);
    const empty = postern('contacts', 'add', alice.ready.card, '--name', ' ', '--data', b);
    assert.equal(empty.code, 1);
    assert.match(empty.stderr, /^postern: a name cannot be empty — choose another name/);
    const sent = postern('send', 'Bob', 'hi\u001b[2J\rfake line', '--wait', '--timeout', '30', '--data', a);
    assert.equal(sent.code, 0, sent.stderr);
    const shown = postern('inbox', '--data', b);
    assert.ok(!shown.stdout.includes('\u001b'), 'no raw escape reaches the terminal');
    assert.match(shown.stdout, /hi\\u\{1b\}\[2J\\u\{d\}fake line/);
    assert.equal(postern('contacts', 'add', alice.ready.card, '--data', b).code, 0, 'a known card again');
    assert.equal(postern('send', 'Bob', 'second', '--wait', '--timeout', '30', '--data', a).code, 0);
    // Both came from Alice: the short keys shown must still tell them apart.
    const lines = postern('inbox', '--data', b).stdout.trim().split('\n');
    const short = /\[([0-9a-f]{12})\]$/.exec(lines[0] ?? '')?.[1];
    assert.ok(short !== undefined, lines[0]);
    assert.equal(postern('inbox', '--remove', short, '--data', b).code, 0);
    assert.deepEqual(
      (JSON.parse(postern('inbox', '--json', '--data', b).stdout) as { text: string }[]).map((m) => m.text),
      ['second'],
    );
    const [last] = JSON.parse(postern('inbox', '--json', '--data', b).stdout) as { key: string }[];
    assert.equal(postern('inbox', '--remove', last?.key ?? '', '--data', b).code, 0);
    assert.match(postern('inbox', '--data', b).stdout, /No messages/);
    const stranger = encodeIdText(IdPrefix.messaging, new Uint8Array(32).fill(7));
    const lookup = postern('contacts', 'add', stranger, '--data', b);
    assert.equal(lookup.code, 1, 'a lookup that finds nothing fails at once, not after the timeout');
    assert.match(lookup.stderr, /is not in the directory — ask them for their contact card file/);
    await alice.lines.kill('SIGINT');
    await bob.lines.kill('SIGINT');
  });

  it('gives contacts the --announce addresses instead of those it listens on', async () => {
    const dir = join(base, 'announce');
    const bad = postern(
      'node',
      '--data',
      dir,
      '--announce',
      'localhost:7999',
      '--port',
      '0',
      '--ws-port',
      '0',
    );
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^postern: --announce localhost:7999 is not an address like tcp:/);
    const five = Array.from({ length: 5 }, (_, i) => ['--announce', `tcp://localhost:${7990 + i}`]).flat();
    const tooMany = postern('node', '--data', dir, ...five, '--port', '0', '--ws-port', '0');
    assert.equal(tooMany.code, 1);
    assert.match(tooMany.stderr, /^postern: give at most 4 --announce addresses/);
    const node = await startNode(dir, 'Ann', '--announce', 'tcp://localhost:7999');
    assert.deepEqual(node.ready.addresses, ['tcp://localhost:7999']);
    const card = JSON.parse(readFileSync(node.ready.card, 'utf8')) as { addrs: string[] };
    assert.deepEqual(card.addrs, ['tcp://localhost:7999']);
    await node.lines.kill('SIGINT');
  });

  it('never prints a secret key', async () => {
    const dir = join(base, 'secrets');
    const node = await startNode(dir, 'Sam');
    const secret = JSON.parse(readFileSync(join(dir, 'identity.secret.json'), 'utf8')) as Record<
      string,
      string
    >;
    const outputs = [
      JSON.stringify(node.ready),
      postern('id', '--export', '--data', dir).stdout,
      postern('id', '--json', '--data', dir).stdout,
      postern('status', '--json', '--data', dir).stdout,
    ];
    for (const output of outputs) {
      assert.ok(!output.includes(secret['signingSeed'] as string));
      assert.ok(!output.includes(secret['encryptionSecret'] as string));
    }
    await node.lines.kill('SIGINT');
  });
});

function portOf(address: string | undefined): string {
  return /:(\d+)$/.exec(address ?? '')?.[1] ?? '0';
}
