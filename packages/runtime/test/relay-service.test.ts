import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { bytesEqual, millis, toBase64url } from '@postern/core';
import { createSodiumProvider } from '@postern/crypto';
import {
  type RelayMessage,
  type RelayRequest,
  type SigningKey,
  encodeRelayJson,
  formatPath,
  parsePath,
  signRelayMessage,
} from '@postern/relay';
import { WebSocket } from 'ws';
import type { Clock } from '../src/clock.ts';
import { RelayClient, RelayClientError } from '../src/relay/relay-client.ts';
import { RelayService } from '../src/relay/relay-service.ts';
import { SqliteRelayStore } from '../src/relay/sqlite-relay-store.ts';

const crypto = createSodiumProvider();
const HOUR = 3_600_000;

function newKey(): SigningKey {
  return crypto.ed25519KeyPairFromSeed(crypto.randomBytes(32));
}
function recordId(): Uint8Array {
  return crypto.randomBytes(16);
}
async function refusal(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof RelayClientError, String(error));
    return error.failure.code;
  }
  assert.fail('the relay accepted it');
}
/** Resolves when the socket closes, with its close code. */
function closed(ws: WebSocket): Promise<number> {
  return new Promise((resolve) => ws.once('close', (code) => resolve(code)));
}
async function openSocket(service: RelayService): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${service.port}/`);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return ws;
}
function nextMessage(ws: WebSocket): Promise<Record<string, unknown>> {
  return new Promise((resolve) =>
    ws.once('message', (data: Buffer) =>
      resolve(JSON.parse(data.toString('utf8')) as Record<string, unknown>),
    ),
  );
}

describe('relay server over WebSocket with SQLite', () => {
  let dir: string;
  let store: SqliteRelayStore;
  let service: RelayService;
  const alice = newKey();
  const bob = newKey();
  const clients: RelayClient[] = [];
  /** The relay's clock: real time, moved ahead by the tests that need a listing to settle. */
  let ahead = 0;
  const relayNow = () => Date.now() + ahead;
  const relayClock: Clock = { monotonic: () => millis(performance.now()), wall: () => millis(relayNow()) };
  /** The relay's log lines, as a test waits for one. */
  const logWaiters = new Map<string, () => void>();
  const log = (_level: string, event: string) => logWaiters.get(event)?.();
  const logged = (event: string) => new Promise<void>((resolve) => logWaiters.set(event, resolve));
  const connect = async (key: SigningKey, options: { form?: 'json' | 'cbor'; clock?: Clock } = {}) => {
    const client = await RelayClient.connect(service.address, { crypto, key, ...options });
    clients.push(client);
    return client;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'postern-relay-'));
    store = new SqliteRelayStore(join(dir, 'relay.db'));
    await store.openAccount(
      alice.publicKey,
      { recordsMax: 50, bytesMax: 4 * 1024 * 1024 },
      'operator',
      Date.now(),
    );
    service = await RelayService.start({
      crypto,
      store,
      port: 0,
      noisePort: 0,
      limits: { contentBytesMax: 300 * 1024, messageBytesMax: 500 * 1024, pullsPerRecordMax: 1000 },
      sendBufferMax: 1024 * 1024,
      clock: relayClock,
      log,
    });
  });
  after(async () => {
    for (const client of clients) await client.close();
    await service.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const form of ['json', 'cbor'] as const) {
    it(`writes, lists, reads, reports usage and deletes a record (${form} form)`, async () => {
      const a = await connect(alice, { form });
      const b = await connect(bob, { form });
      const id = recordId();
      const content = crypto.randomBytes(1000);
      assert.equal(await a.write(bob.publicKey, { recordId: id, ttl: HOUR, tag: 'msg', content }), true);
      const path = formatPath({ receiver: bob.publicKey, sender: alice.publicKey, recordId: id });
      const settling = await b.inventory(relayNow() - HOUR, relayNow() + HOUR);
      assert.ok(!settling.paths.includes(path), 'a record stored this instant is not listed yet');
      assert.equal(settling.complete, false);
      ahead += 3_000; // the relay's listings settle 2 s behind its clock
      const listed = await b.inventory(relayNow() - HOUR, relayNow() - 2_500);
      assert.ok(listed.paths.includes(path));
      assert.equal(listed.complete, true);
      const record = await b.read(path);
      assert.ok(record !== null && bytesEqual(record.request.content, content));
      assert.ok(bytesEqual(record.from, alice.publicKey));
      ahead += 3_000;
      const usage = await a.usage(relayNow() - HOUR, relayNow() - 2_500);
      const entry = usage.usage.find((u) => u.path === path);
      assert.ok(entry !== undefined && bytesEqual(entry.receiver, bob.publicKey) && entry.bytes === 1000);
      assert.equal(await b.delete(id), true);
      assert.equal(await b.read(path), null);
    });
  }

  it('serves over a Noise link what was written over WebSocket, and pushes to a listener there', async () => {
    const a = await connect(alice);
    const noise = service.noiseAddress ?? '';
    assert.ok(noise.startsWith('tcp://127.0.0.1:'));
    const b = await RelayClient.connect(noise, { crypto, key: bob });
    clients.push(b);
    let hear: (paths: readonly string[]) => void = () => {};
    const heard = new Promise<readonly string[]>((resolve) => (hear = resolve));
    // From the relay's now: what earlier tests stored is older.
    assert.equal(await b.listen(relayNow(), (paths) => hear(paths)), true);
    const id = recordId();
    const content = crypto.randomBytes(200 * 1024);
    await a.write(bob.publicKey, { recordId: id, ttl: HOUR, tag: 'msg', content });
    const path = formatPath({ receiver: bob.publicKey, sender: alice.publicKey, recordId: id });
    assert.deepEqual(await heard, [path]);
    const record = await b.read(path);
    assert.ok(record !== null && bytesEqual(record.request.content, content));
  });

  it('answers garbage on a Noise link with an error and cuts the link after more of it', async () => {
    const b = await RelayClient.connect(service.noiseAddress ?? '', { crypto, key: bob });
    clients.push(b);
    assert.equal(b.open, true);
    for (let i = 0; i < 10; i++) b.sendRaw(crypto.randomBytes(100));
    // The relay answers each with an error addressed to no one (the client drops those), then closes.
    for (let i = 0; i < 200 && b.open; i++) await b.inventory(0, 1).catch(() => undefined);
    assert.equal(b.open, false, 'the relay closed the link');
    const fresh = await RelayClient.connect(service.noiseAddress ?? '', { crypto, key: bob });
    clients.push(fresh);
    assert.equal((await fresh.inventory(relayNow() - HOUR, relayNow() - 2_500)).type, 'Inventory');
  });

  it('refuses a Noise node that is not the relay its address names', async () => {
    const impostor = service.noiseAddress?.replace(/#.*/, `#${toBase64url(newKey().publicKey)}`) ?? '';
    await assert.rejects(
      RelayClient.connect(impostor, { crypto, key: bob }),
      /is not the relay whose key the address names/,
    );
  });

  it('pushes new records to a listening receiver, after what was already there', async () => {
    const a = await connect(alice);
    const b = await connect(bob);
    const before = recordId();
    await a.write(bob.publicKey, { recordId: before, ttl: HOUR, tag: 'msg', content: new Uint8Array([1]) });
    const heard: string[] = [];
    let wake: () => void = () => {};
    const listening = b.listen(Date.now() - 1000, (paths) => {
      heard.push(...paths);
      wake();
    });
    assert.equal(await listening, true);
    const later = recordId();
    await a.write(bob.publicKey, { recordId: later, ttl: HOUR, tag: 'msg', content: new Uint8Array([2]) });
    const want = [before, later].map((id) =>
      formatPath({ receiver: bob.publicKey, sender: alice.publicKey, recordId: id }),
    );
    for (let i = 0; i < 100 && !want.every((p) => heard.includes(p)); i++) {
      await new Promise<void>((resolve) => (wake = resolve));
    }
    assert.ok(want.every((p) => heard.includes(p)));
    assert.equal(new Set(heard).size, heard.length, 'each path pushed once');
  });

  it('refuses a write from a key without an account, and a full account with an explicit "full"', async () => {
    const b = await connect(bob);
    assert.equal(
      await refusal(
        b.write(alice.publicKey, {
          recordId: recordId(),
          ttl: HOUR,
          tag: 'msg',
          content: new Uint8Array([1]),
        }),
      ),
      'RELAY_NO_ACCOUNT',
    );
    const carol = newKey();
    await store.openAccount(carol.publicKey, { recordsMax: 2, bytesMax: 1_000_000 }, 'operator', Date.now());
    const c = await connect(carol);
    for (let i = 0; i < 2; i++)
      await c.write(bob.publicKey, {
        recordId: recordId(),
        ttl: HOUR,
        tag: 'msg',
        content: new Uint8Array([i]),
      });
    const full = c.write(bob.publicKey, {
      recordId: recordId(),
      ttl: HOUR,
      tag: 'msg',
      content: new Uint8Array([9]),
    });
    await assert.rejects(full, (error: RelayClientError) => {
      assert.equal(error.failure.code, 'RELAY_QUOTA_FULL');
      assert.match(error.message, /full: the account holds 2 of 2 records/);
      return true;
    });
  });

  it('refuses unsigned and forged requests', async () => {
    const b = await connect(bob);
    const signed = b.sign({ type: 'inventory', afterTs: 0, beforeTs: Date.now() }, service.server.publicKey);
    const unsigned = { ...signed, sig: new Uint8Array(64) };
    assert.equal(await refusal(b.send(unsigned)), 'RELAY_BAD_SIGNATURE');
    // Mallory signs with her key but claims to be Bob.
    const mallory = await connect(newKey());
    const forged = {
      ...mallory.sign({ type: 'inventory', afterTs: 0, beforeTs: Date.now() }, service.server.publicKey),
      from: bob.publicKey,
    };
    assert.equal(await refusal(mallory.send(forged)), 'RELAY_BAD_SIGNATURE');
    // A write whose content was changed after signing.
    const a = await connect(alice);
    const write = a.sign(
      { type: 'write', recordId: recordId(), ttl: HOUR, tag: 'msg', content: new Uint8Array([1, 2]) },
      bob.publicKey,
    );
    const altered = {
      ...write,
      request: { ...write.request, content: new Uint8Array([1, 3]) },
    } as RelayMessage<RelayRequest>;
    assert.equal(await refusal(a.send(altered)), 'RELAY_BAD_SIGNATURE');
  });

  it('refuses a replayed request, a stale one and a write that would already be expired', async () => {
    const b = await connect(bob);
    const read = b.sign({ type: 'inventory', afterTs: 0, beforeTs: Date.now() }, service.server.publicKey);
    await b.send(read);
    assert.equal(await refusal(b.send(read)), 'RELAY_REPLAYED');
    const skewed: Clock = {
      monotonic: () => millis(performance.now()),
      wall: () => millis(Date.now() - 10 * 60_000),
    };
    const late = await connect(bob, { clock: skewed });
    assert.equal(await refusal(late.inventory(0, Date.now())), 'RELAY_STALE');
    // Signed a minute ago (within the clock window) with a TTL of a second: dead on arrival.
    const minuteAgo: Clock = {
      monotonic: () => millis(performance.now()),
      wall: () => millis(Date.now() - 60_000),
    };
    const slowAlice = await connect(alice, { clock: minuteAgo });
    assert.equal(
      await refusal(
        slowAlice.write(bob.publicKey, {
          recordId: recordId(),
          ttl: 1000,
          tag: 'msg',
          content: new Uint8Array([1]),
        }),
      ),
      'RELAY_EXPIRED',
    );
    const a = await connect(alice);
    assert.equal(
      await refusal(
        a.write(bob.publicKey, {
          recordId: recordId(),
          ttl: 365 * 24 * HOUR,
          tag: 'msg',
          content: new Uint8Array([1]),
        }),
      ),
      'RELAY_TTL_TOO_LONG',
    );
  });

  it('replays of a write store nothing new, even after the record was read and deleted', async () => {
    const a = await connect(alice);
    const b = await connect(bob);
    const write = a.sign(
      { type: 'write', recordId: recordId(), ttl: HOUR, tag: 'msg', content: new Uint8Array([7]) },
      bob.publicKey,
    );
    assert.equal(await a.send(write), true);
    const id = (write.request as { recordId: Uint8Array }).recordId;
    await b.delete(id);
    assert.equal(await a.send(write), true, 'a retried write is acknowledged');
    assert.equal(
      await b.read(formatPath({ receiver: bob.publicKey, sender: alice.publicKey, recordId: id })),
      null,
    );
  });

  it("refuses to read another receiver's path or delete someone else's record", async () => {
    const a = await connect(alice);
    const id = recordId();
    await a.write(bob.publicKey, { recordId: id, ttl: HOUR, tag: 'msg', content: new Uint8Array([1]) });
    const eve = await connect(newKey());
    const path = formatPath({ receiver: bob.publicKey, sender: alice.publicKey, recordId: id });
    assert.equal(await refusal(eve.read(path)), 'RELAY_NOT_YOURS');
    assert.equal(await refusal(eve.delete(id)), 'RELAY_NOT_YOURS');
    assert.equal(await refusal(eve.read('not/a/path')), 'RELAY_BAD_PATH');
    const b = await connect(bob);
    assert.ok((await b.read(path)) !== null, 'the record is still there for its receiver');
  });

  it('answers malformed JSON and garbage frames with an error, then closes a connection that keeps sending them', async () => {
    const ws = await openSocket(service);
    const answer = nextMessage(ws);
    ws.send('{"msg": {"type": "write"');
    const first = (await answer)['msg'] as { request: { type: string; code: string } };
    assert.equal(first.request.type, 'error');
    assert.equal(first.request.code, 'RELAY_MALFORMED');
    const closing = closed(ws);
    for (let i = 0; i < 10; i++) ws.send(i % 2 === 0 ? crypto.randomBytes(64) : `garbage ${i}`);
    assert.equal(await closing, 1008);
  });

  it('refuses an oversize record, and cuts a message larger than a frame may be', async () => {
    const a = await connect(alice);
    const big = new Uint8Array(301 * 1024);
    assert.equal(
      await refusal(a.write(bob.publicKey, { recordId: recordId(), ttl: HOUR, tag: 'msg', content: big })),
      'RELAY_MALFORMED',
    );
    const ws = await openSocket(service);
    const closing = closed(ws);
    ws.send('x'.repeat(600 * 1024));
    assert.equal(await closing, 1009);
  });

  it('cuts off a reader that never drains its answers, and stays up for everyone else', async () => {
    const a = await connect(alice);
    const id = recordId();
    await a.write(bob.publicKey, {
      recordId: id,
      ttl: HOUR,
      tag: 'msg',
      content: crypto.randomBytes(250 * 1024),
    });
    const path = formatPath({ receiver: bob.publicKey, sender: alice.publicKey, recordId: id });
    const slow = await openSocket(service);
    const slowClient = await RelayClient.connect(service.address, { crypto, key: bob });
    clients.push(slowClient);
    // Signed reads from Bob, sent on a socket that stops reading.
    const reads = Array.from({ length: 200 }, () => encodeRelayJson(slowClient.sign({ type: 'read', path })));
    const socket = (slow as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    socket.pause();
    const cut = logged('slow-reader');
    for (const read of reads) slow.send(read);
    await cut;
    const closing = closed(slow);
    socket.resume();
    await closing;
    const fresh = await connect(bob);
    assert.ok((await fresh.read(path)) !== null);
  });

  it('keeps no listener for a connection that closed while its listen was being checked', async () => {
    const before = service.server.listenerCount;
    for (let i = 0; i < 20; i++) {
      const connection = service.server.connect(() => {});
      const listen = signRelayMessage(crypto, newKey(), service.server.publicKey, relayNow(), {
        type: 'listen',
        afterTs: 0,
      });
      const handling = connection.handle({ ok: true, value: listen }, relayNow());
      connection.close();
      await handling;
    }
    assert.equal(service.server.listenerCount, before);
  });

  it('keeps at most 16 listens per key, ending the oldest when a 17th starts', async () => {
    const dave = newKey();
    const listeners = await Promise.all(Array.from({ length: 16 }, () => connect(dave)));
    for (const l of listeners) assert.equal(await l.listen(relayNow(), () => {}), true);
    const ended = new Promise<string>((resolve) => (listeners[0]!.onListenEnded = resolve));
    const seventeenth = await connect(dave);
    assert.equal(await seventeenth.listen(relayNow(), () => {}), true);
    assert.equal(await ended, 'RELAY_TOO_MANY_LISTENERS');
  });

  it('serves Prometheus metrics and keeps its key across restarts', async () => {
    const response = await fetch(`http://127.0.0.1:${service.port}/metrics`);
    const text = await response.text();
    assert.match(text, /postern_relay_writes_total \d+/);
    assert.match(text, /postern_relay_quota_rejections_total [1-9]/);
    assert.match(text, /postern_relay_disconnects_total\{reason="slow-reader"\} [1-9]/);
    assert.match(text, /postern_relay_request_seconds_bucket/);
    const key = await store.relayKey(() => assert.fail('the key exists'));
    assert.ok(bytesEqual(key.publicKey, service.server.publicKey));
    assert.ok(
      parsePath(formatPath({ receiver: bob.publicKey, sender: alice.publicKey, recordId: recordId() })).ok,
    );
  });
});

describe('relay server with worker threads', () => {
  it('verifies requests and signs answers and pushes off the event loop, as the relay key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'postern-relay-threads-'));
    const store = new SqliteRelayStore(join(dir, 'relay.db'));
    const service = await RelayService.start({ crypto, store, port: 0, verifyThreads: 1 });
    const clients: RelayClient[] = [];
    try {
      const [alice, bob] = [newKey(), newKey()];
      await store.openAccount(alice.publicKey, { recordsMax: 10, bytesMax: 1 << 20 }, 'operator', Date.now());
      const connect = async (key: SigningKey) => {
        const client = await RelayClient.connect(service.address, { crypto, key });
        clients.push(client);
        return client;
      };
      const [a, b] = [await connect(alice), await connect(bob)];
      const pushed = new Promise<readonly string[]>((resolve) => void b.listen(0, resolve));
      const id = recordId();
      const content = crypto.randomBytes(100);
      assert.equal(await a.write(bob.publicKey, { recordId: id, ttl: HOUR, tag: 'msg', content }), true);
      const path = formatPath({ receiver: bob.publicKey, sender: alice.publicKey, recordId: id });
      assert.deepEqual(await pushed, [path]);
      const record = await b.read(path);
      assert.ok(record !== null && bytesEqual(record.request.content, content));
      const forged = { ...b.sign({ type: 'read', path }), sig: new Uint8Array(64) };
      assert.equal(await refusal(b.send(forged)), 'RELAY_BAD_SIGNATURE');
      // Every answer passed the client's check of the relay's signature.
      assert.deepEqual([...a.misbehaviour, ...b.misbehaviour], []);
    } finally {
      for (const client of clients) await client.close();
      await service.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
