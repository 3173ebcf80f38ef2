import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  type MessagingId,
  type Millis,
  bytesEqual,
  fromHex,
  fromUtf8,
  toBase64url,
  unwrap,
  utf8,
} from '@postern/core';
import { createSodiumProvider } from '@postern/crypto';
import type { IdentityDocument } from '@postern/identity';
import type { NodeEvent, PosternNode, RelayMailboxLimits } from '@postern/node';
import { formatPath } from '@postern/relay';
import { NodeRuntime } from '../src/node-runtime.ts';
import { RelayClient } from '../src/relay/relay-client.ts';
import { RelayService } from '../src/relay/relay-service.ts';
import { SqliteRelayStore } from '../src/relay/sqlite-relay-store.ts';

// Nodes and a relay in this process over loopback sockets, with real SQLite files: a message to a
// user who is offline goes through the sender's relay; the recipient pulls it when it comes back,
// acknowledges it on its own relay, and the sender learns "delivered" and audits the charge.

const crypto = createSodiumProvider();
const DAY = 86_400_000;
const WAIT_MS = 20_000;
const quota = { recordsMax: 1000, bytesMax: 16 * 1024 * 1024 };

/** Resolves with the first event of `runtime` that `match` accepts; fails after WAIT_MS. */
function nextEvent<T extends NodeEvent>(
  runtime: NodeRuntime,
  match: (event: NodeEvent) => event is T,
  what: string,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const signal = AbortSignal.timeout(WAIT_MS);
    const stop = runtime.onEvent((event) => {
      if (!match(event)) return;
      stop();
      resolve(event);
    });
    signal.addEventListener('abort', () => {
      stop();
      reject(new Error(`no ${what} within ${WAIT_MS} ms`));
    });
  });
}

const isMessage =
  (text: string) =>
  (e: NodeEvent): e is Extract<NodeEvent, { type: 'message' }> =>
    e.type === 'message' && unwrap(fromUtf8(e.content)) === text;
const isOutbox =
  (state: string, key?: string) =>
  (e: NodeEvent): e is Extract<NodeEvent, { type: 'outbox' }> =>
    e.type === 'outbox' && e.state === state && (key === undefined || e.key === key);

function send(runtime: NodeRuntime, to: Uint8Array, text: string): string {
  const options = { ttlMs: DAY, isReplicated: true };
  const sent = run(runtime, (n, t) => n.send(to as MessagingId, utf8(text), options, t));
  assert.ok(sent.ok, JSON.stringify(sent));
  return sent.value;
}

function run<T>(runtime: NodeRuntime, apply: (node: PosternNode, now: Millis) => T): T {
  const result = runtime.input(apply);
  assert.ok(result !== undefined, 'the node is closed');
  return result;
}

describe('the node client of relays (seed 003)', () => {
  let dir: string;
  let store: SqliteRelayStore;
  let service: RelayService;
  const runtimes: NodeRuntime[] = [];
  const open = (name: string, relay?: Partial<RelayMailboxLimits>) => {
    const runtime = new NodeRuntime({
      crypto,
      dataDir: join(dir, name),
      label: name,
      ...(relay ? { relay } : {}),
    });
    runtimes.push(runtime);
    return runtime;
  };
  const setRelays = (runtime: NodeRuntime): IdentityDocument => {
    const set = run(runtime, (n, t) => n.setRelays([service.address], t));
    assert.ok(set.ok, JSON.stringify(set));
    return set.value;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'postern-node-relay-'));
    store = new SqliteRelayStore(join(dir, 'relay.db'));
    service = await RelayService.start({ crypto, store, port: 0, noisePort: 0 });
  });
  after(async () => {
    for (const runtime of runtimes) await runtime.close();
    await service.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('carries a message to a user who was offline, and brings back its acknowledgement and audit', async () => {
    // Bob lists the relay in his document, then goes offline.
    const bobBefore = open('bob');
    const bobDocument = setRelays(bobBefore);
    await bobBefore.close();
    const aliceBefore = open('alice');
    await store.openAccount(aliceBefore.messagingId, quota, 'operator', Date.now());
    await store.openAccount(bobDocument.pubkey, quota, 'operator', Date.now());
    const aliceDocument = setRelays(aliceBefore);
    assert.ok(run(aliceBefore, (n, t) => n.messaging.addContact(bobDocument, t)).ok);
    await aliceBefore.start();

    const stored = nextEvent(aliceBefore, isOutbox('stored'), 'stored state');
    const key = send(aliceBefore, bobDocument.pubkey, 'hello via the relay');
    const storedEvent = await stored;
    assert.equal(storedEvent.key, key);
    assert.ok(storedEvent.relay !== undefined && bytesEqual(storedEvent.relay, service.server.publicKey));

    // Alice restarts: her node remembers the relay holds the message and does not write it again.
    await aliceBefore.close();
    const alice = open('alice');
    let rewrites = 0;
    alice.onEvent((e) => void (e.type === 'relay-send' && e.message.request.type === 'write' && rewrites++));
    await alice.start();

    // Bob comes back (a new process on the same data): he pulls his contact's relay.
    const bob = open('bob');
    assert.ok(run(bob, (n, t) => n.messaging.addContact(aliceDocument, t)).ok);
    const message = nextEvent(bob, isMessage('hello via the relay'), 'the message at Bob');
    const delivered = nextEvent(alice, isOutbox('delivered', key), 'delivered at Alice');
    await bob.start();
    assert.equal((await message).via, 'relay');
    await delivered;

    // Bob took the record off the relay; his acknowledgement was Alice's to take, and she did.
    const recordId = unwrap(fromHex(key.split(':')[1] as string));
    const path = formatPath({ receiver: bobDocument.pubkey, sender: alice.messagingId, recordId });
    const reader = await RelayClient.connect(service.address, {
      crypto,
      key: { publicKey: bobDocument.pubkey, secretKey: bob.identity.signingKey.expose() },
    });
    assert.equal(await reader.read(path), null);
    await reader.close();
    assert.equal(
      run(alice, (n) => n.relays.acks.length),
      1,
    );
    assert.equal(rewrites, 0);

    // Audit: the relay charged one pull, the receiver acknowledged it. (The relay's usage listing
    // settles 2 s behind its clock: the node asks again until it has.)
    const audited = nextEvent(
      alice,
      (e): e is Extract<NodeEvent, { type: 'relay-audit' }> => e.type === 'relay-audit',
      'an audit',
    );
    run(alice, (n, t) => n.relays.audit(t));
    const { rows, unreachable } = await audited;
    assert.deepEqual(unreachable, []);
    const row = rows.find((r) => r.path === path);
    assert.ok(row !== undefined, JSON.stringify(rows));
    assert.equal(row.charged, 1);
    assert.ok(row.deliveredAt !== undefined);
    assert.ok(bytesEqual(row.receiver, bobDocument.pubkey));
  });

  it('keeps one inbox entry for a message that came both directly and through the relay', async () => {
    const carol = open('carol');
    const dave = open('dave');
    await store.openAccount(carol.messagingId, quota, 'operator', Date.now());
    const carolDocument = setRelays(carol);
    const carolAddress = await carol.start();
    const daveAddress = await dave.start();
    const reach = (r: NodeRuntime, address: string) => ({ node: r.nodeId, addrs: [address] });
    assert.ok(
      run(carol, (n, t) =>
        n.messaging.addContact(dave.identity.document, t, { reach: reach(dave, daveAddress) }),
      ).ok,
    );
    assert.ok(
      run(dave, (n, t) => n.messaging.addContact(carolDocument, t, { reach: reach(carol, carolAddress) })).ok,
    );

    // A stranger with an account on the relay writes to Dave first: Dave does not read it.
    const stranger = crypto.ed25519KeyPairFromSeed(crypto.randomBytes(32));
    const strangerSegment = toBase64url(stranger.publicKey);
    let strangerReads = 0;
    dave.onEvent((e) => {
      const read =
        e.type === 'relay-send' && e.message.request.type === 'read' ? e.message.request : undefined;
      if (read?.path.includes(strangerSegment)) strangerReads++;
    });
    await store.openAccount(stranger.publicKey, quota, 'operator', Date.now());
    const spammer = await RelayClient.connect(service.address, { crypto, key: stranger });
    const spam = { recordId: crypto.randomBytes(16), ttl: DAY, tag: 'msg', content: utf8('buy now') };
    assert.equal(await spammer.write(dave.messagingId, spam), true);
    await spammer.close();

    // Dave listens on Carol's relay; Carol writes there and also delivers directly.
    let messages = 0;
    dave.onEvent((e) => void (isMessage('both ways')(e) && messages++));
    const relayDone = nextEvent(
      dave,
      (e): e is Extract<NodeEvent, { type: 'relay-send' }> =>
        e.type === 'relay-send' && e.message.request.type === 'delete',
      "Dave's delete of the relay's copy",
    );
    const delivered = nextEvent(carol, isOutbox('delivered'), 'delivered at Carol');
    send(carol, dave.messagingId, 'both ways');
    await Promise.all([relayDone, delivered]);
    assert.equal(messages, 1);
    assert.equal(strangerReads, 0);
    assert.equal(
      run(dave, (n) => n.messaging.inbox.messages.size),
      1,
    );
  });

  it('reaches the relay over a Noise link too', async () => {
    const kim = open('kim');
    const leo = open('leo');
    const noise = service.noiseAddress;
    assert.ok(noise !== undefined);
    await store.openAccount(kim.messagingId, quota, 'operator', Date.now());
    const set = run(kim, (n, t) => n.setRelays([noise], t));
    assert.ok(set.ok);
    assert.ok(run(kim, (n, t) => n.messaging.addContact(leo.identity.document, t)).ok);
    assert.ok(run(leo, (n, t) => n.messaging.addContact(set.value, t)).ok);
    await kim.start();
    const stored = nextEvent(kim, isOutbox('stored'), 'stored over Noise');
    send(kim, leo.messagingId, 'over noise');
    await stored;
    const message = nextEvent(leo, isMessage('over noise'), 'the message at Leo');
    await leo.start(); // Leo's node connects to relays only once started
    assert.equal((await message).via, 'relay');
  });

  it('writes and reads again once a relay that went away is back (same address, same store)', async () => {
    const store2 = new SqliteRelayStore(join(dir, 'relay2.db'));
    let relay2 = await RelayService.start({ crypto, store: store2, port: 0 });
    const { port } = relay2;
    const fast = { reconnectMinMs: 50, reconnectMaxMs: 200 };
    const mia = open('mia', fast);
    const ned = open('ned', fast);
    try {
      await store2.openAccount(ned.messagingId, quota, 'operator', Date.now());
      const set = run(ned, (n, t) => n.setRelays([relay2.address], t));
      assert.ok(set.ok);
      assert.ok(run(ned, (n, t) => n.messaging.addContact(mia.identity.document, t)).ok);
      assert.ok(run(mia, (n, t) => n.messaging.addContact(set.value, t)).ok);
      const listening = nextEvent(
        mia,
        (e): e is Extract<NodeEvent, { type: 'relay-send' }> =>
          e.type === 'relay-send' && e.message.request.type === 'listen',
        "Mia's listen",
      );
      await Promise.all([mia.start(), ned.start(), listening]);

      // The relay goes away; Ned sends meanwhile; the relay comes back on the same port.
      await relay2.close();
      send(ned, mia.messagingId, 'after the outage');
      const message = nextEvent(mia, isMessage('after the outage'), 'the message at Mia');
      relay2 = await RelayService.start({ crypto, store: store2, port });
      assert.equal((await message).via, 'relay');
    } finally {
      await relay2.close();
      await store2.close();
    }
  });

  it('with the fallback policy, writes to the relay only a message still queued after the delay', async () => {
    const hana = open('hana', { policy: 'fallback', fallbackAfterMs: 2_000, syncEveryMs: 100 });
    const ivan = open('ivan');
    const jo = open('jo'); // never started, no replicants: only the relay can carry to Jo
    await store.openAccount(hana.messagingId, quota, 'operator', Date.now());
    setRelays(hana);
    const ivanAddress = await ivan.start();
    const reach = { node: ivan.nodeId, addrs: [ivanAddress] };
    assert.ok(run(hana, (n, t) => n.messaging.addContact(ivan.identity.document, t, { reach })).ok);
    assert.ok(run(hana, (n, t) => n.messaging.addContact(jo.identity.document, t)).ok);
    let writesToIvan = 0;
    hana.onEvent((e) => {
      const toIvan = e.type === 'relay-send' && bytesEqual(e.message.to, ivan.messagingId);
      if (toIvan && e.message.request.type === 'write') writesToIvan++;
    });
    await hana.start();

    const delivered = nextEvent(hana, isOutbox('delivered'), 'delivered to Ivan');
    const toIvan = send(hana, ivan.messagingId, 'direct in time');
    assert.equal((await delivered).key, toIvan);
    const stored = nextEvent(hana, isOutbox('stored'), 'stored for Jo');
    const sentAt = Date.now();
    const toJo = send(hana, jo.messagingId, 'only the relay');
    const event = await stored;
    assert.ok(Date.now() - sentAt >= 2_000, 'written only once the fallback delay had passed');
    assert.equal(event.key, toJo);
    assert.ok(event.relay !== undefined && bytesEqual(event.relay, service.server.publicKey));
    assert.equal(writesToIvan, 0);
  });

  it('tells the user when its relay refuses its writes (no account)', async () => {
    const erin = open('erin');
    const frank = open('frank');
    setRelays(erin); // erin has no account on the relay
    assert.ok(run(erin, (n, t) => n.messaging.addContact(frank.identity.document, t)).ok);
    const refused = nextEvent(
      erin,
      (e): e is Extract<NodeEvent, { type: 'relay-refused' }> => e.type === 'relay-refused',
      'a refusal',
    );
    await erin.start();
    const key = send(erin, frank.messagingId, 'no account');
    const event = await refused;
    assert.equal(event.code, 'RELAY_NO_ACCOUNT');
    assert.equal(event.request, 'write');
    assert.equal(event.relay, service.address);
    const entry = run(erin, (n) => n.messaging.outbox.get(key));
    assert.equal(entry?.row.state, 'queued');
  });

  it('refuses a relay address that does not parse, naming it', () => {
    const gina = open('gina');
    const set = run(gina, (n, t) => n.setRelays(['ws://127.0.0.1:1/'], t));
    assert.ok(!set.ok);
    assert.equal(set.error.code, 'NODE_BAD_RELAY');
    assert.match(set.error.reason, /ws:\/\/127\.0\.0\.1:1\//);
    assert.equal(gina.identity.document.relays.length, 0);
  });
});
