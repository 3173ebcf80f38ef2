import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type NodeId, Rng, fromUtf8, millis, ok, unwrap, utf8 } from '@postern/core';
import { createSodiumProvider } from '@postern/crypto';
import { createIdentity } from '@postern/identity';
import { type NodeEvent, type NodeRow, PosternNode, type RelayMailboxLimits } from '@postern/node';
import type { ReplicantLimits } from '@postern/replicant';
import { type RelayConnection, type RelayMessage, RelayServer, formatRelayAddress } from '@postern/relay';
import { SqliteRelayStore } from '../src/relay/sqlite-relay-store.ts';

// The node's relay mailbox, sans I/O, against a real relay server and SQLite store in this process:
// the test carries the messages between them and moves the node's clock, so backlogs, restarts and
// full inboxes are played exactly.

const crypto = createSodiumProvider();
const WALL = 1_790_000_000_000;
const DAY = 86_400_000;
const STEPS_MAX = 10_000;

interface Node {
  machine: PosternNode;
  /** Persisted rows (as the runtime's store would hold them), for restarts. */
  rows: Map<string, NodeRow>;
  events: NodeEvent[];
  connection: RelayConnection | undefined;
  /** Answers and pushes from the relay, not yet delivered. */
  inbox: RelayMessage[];
}

describe('the relay mailbox against a relay server', () => {
  let dir: string;
  let store: SqliteRelayStore;
  let server: RelayServer;
  let address: string;
  let now = 0;
  const wall = () => WALL + now;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'postern-mailbox-'));
    store = new SqliteRelayStore(join(dir, 'relay.db'));
    const key = await store.relayKey(() => crypto.ed25519KeyPairFromSeed(crypto.randomBytes(32)));
    server = new RelayServer({ crypto, key, store, limits: { listingSettleMs: 1 } });
    store.subscribe((paths) => server.handleStored(paths, wall()));
    address = formatRelayAddress({ url: 'ws://127.0.0.1:9/', key: key.publicKey });
  });
  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function make(
    label: string,
    options: { relay?: Partial<RelayMailboxLimits>; replicant?: Partial<ReplicantLimits>; from?: Node } = {},
  ): Node {
    const rng = Rng.fromSeed(label);
    const identity = options.from?.machine.identity ?? createIdentity(crypto, { label });
    const machine = new PosternNode({
      crypto,
      identity,
      node: (options.from?.machine.node ?? rng.bytes(32)) as NodeId,
      rng,
      wallClockOffsetMs: WALL,
      now: millis(now),
      rows: options.from === undefined ? [] : [...options.from.rows.values()],
      ...(options.relay ? { relay: options.relay } : {}),
      ...(options.replicant ? { replicant: options.replicant } : {}),
    });
    const node: Node = {
      machine,
      rows: new Map(options.from?.rows ?? []),
      events: [],
      connection: undefined,
      inbox: [],
    };
    return node;
  }

  /** Drains a node: persists rows, and carries its relay requests to the server (connecting it). */
  async function drain(node: Node): Promise<void> {
    for (let i = 0; i < STEPS_MAX; i++) {
      const out = node.machine.pollOutput();
      if (out.type === 'timeout') return;
      if (out.type !== 'event') continue;
      const event = out.event;
      node.events.push(event);
      if (event.type === 'persist') {
        const key = `${event.table}/${event.key}`;
        if (event.value === undefined) node.rows.delete(key);
        else node.rows.set(key, { table: event.table, key: event.key, value: event.value });
      } else if (event.type === 'relay-connect') {
        node.connection = server.connect((m) => node.inbox.push(m));
        node.machine.relayUp(event.relay, millis(now));
      } else if (event.type === 'relay-disconnect') {
        node.connection?.close();
        node.connection = undefined;
      } else if (event.type === 'relay-send') {
        await node.connection?.handle(ok(event.message), wall());
      }
    }
    assert.fail('the node kept producing');
  }

  /** Delivers the relay's messages to the node and drains, until both are quiet. */
  async function settle(node: Node): Promise<void> {
    await drain(node);
    for (let i = 0; i < STEPS_MAX && node.inbox.length > 0; i++) {
      for (const message of node.inbox.splice(0))
        node.machine.relayMessage(address, ok(message), millis(now));
      await drain(node);
    }
    assert.equal(node.inbox.length, 0, 'the relay kept talking');
  }

  async function advance(node: Node, ms: number): Promise<void> {
    now += ms;
    node.machine.handleTimeout(millis(now));
    await settle(node);
  }

  const sent = (node: Node, type: string) =>
    node.events.filter((e) => e.type === 'relay-send' && e.message.request.type === type).length;
  const messages = (node: Node) =>
    node.events.flatMap((e) => (e.type === 'message' ? [unwrap(fromUtf8(e.content))] : []));

  /** Alice lists the relay and has an account; Bob is her contact and knows her document. */
  async function pair(bobOptions: Parameters<typeof make>[1] = {}) {
    const alice = make(`alice-${now}`);
    const bob = make(`bob-${now}`, bobOptions);
    await store.openAccount(
      alice.machine.identity.messagingId,
      { recordsMax: 10_000, bytesMax: 1 << 28 },
      'operator',
      wall(),
    );
    const set = alice.machine.setRelays([address], millis(now));
    assert.ok(set.ok);
    assert.ok(alice.machine.messaging.addContact(bob.machine.identity.document, millis(now)).ok);
    assert.ok(bob.machine.messaging.addContact(set.value, millis(now)).ok);
    alice.machine.start([], millis(now));
    await settle(alice);
    return { alice, bob };
  }

  async function send(from: Node, to: Node, text: string): Promise<Uint8Array> {
    const key = from.machine.send(
      to.machine.identity.messagingId,
      utf8(text),
      { ttlMs: DAY, isReplicated: false },
      millis(now),
    );
    assert.ok(key.ok);
    await settle(from);
    const entry = from.machine.messaging.outbox.get(key.value);
    assert.ok(entry !== undefined);
    return entry.row.env;
  }

  it('deletes every record it already had, however many one push names', async () => {
    const { alice, bob } = await pair();
    const count = 400; // more than a connection's 256 requests in flight
    for (let i = 0; i < count; i++) {
      const env = await send(alice, bob, `seen ${i}`);
      // Bob had each one already (directly, say).
      assert.ok(bob.machine.messaging.takeFromRelay(crypto.randomBytes(32), env, millis(now)).ok);
    }
    bob.machine.start([], millis(now));
    await settle(bob);
    assert.equal(sent(bob, 'read'), 0, 'nothing already had is read');
    assert.equal(sent(bob, 'delete'), count);
    const left = await store.inventory(
      bob.machine.identity.messagingId,
      0,
      Number.MAX_SAFE_INTEGER,
      1000,
      wall(),
    );
    assert.equal(left.items.length, 0);
  });

  it('leaves records for a full inbox on the relay, and reads them again only once it has room', async () => {
    const { alice, bob } = await pair({ replicant: { inboxMax: 1 } });
    await send(alice, bob, 'first');
    await send(alice, bob, 'second');
    bob.machine.start([], millis(now));
    await settle(bob);
    assert.equal(messages(bob).length, 1, 'one fits; the other waits on the relay');
    const readsWhileFull = sent(bob, 'read');
    assert.equal(readsWhileFull, 2);
    for (let minute = 0; minute < 10; minute++) await advance(bob, 60_000);
    assert.equal(sent(bob, 'read'), readsWhileFull, 'no pull is spent while the inbox is full');
    const [key] = [...bob.machine.messaging.inbox.messages.keys()];
    assert.ok(key !== undefined && bob.machine.messaging.deleteMessage(key));
    await advance(bob, 60_000);
    assert.deepEqual(messages(bob).sort(), ['first', 'second']);
  });

  it('keeps an acknowledgement it owes across a restart, and writes it once its relay is back', async () => {
    const { alice, bob } = await pair();
    await store.openAccount(
      bob.machine.identity.messagingId,
      { recordsMax: 100, bytesMax: 1 << 20 },
      'operator',
      wall(),
    );
    const bobSet = bob.machine.setRelays([address], millis(now));
    assert.ok(bobSet.ok);
    await send(alice, bob, 'acknowledge me');
    // Bob takes the record, but his own relay (the same one) refuses his writes for now.
    await store.closeAccount(bob.machine.identity.messagingId, wall(), 'operator');
    bob.machine.start([], millis(now));
    await settle(bob);
    assert.deepEqual(messages(bob), ['acknowledge me']);
    assert.ok(bob.events.some((e) => e.type === 'relay-refused' && e.code === 'RELAY_NO_ACCOUNT'));
    assert.ok(
      [...bob.rows.keys()].some((k) => k.startsWith('relay/ackq:')),
      'the owed acknowledgement is kept',
    );

    // Bob restarts from his rows; his account is back; the acknowledgement goes out.
    const bob2 = make('bob-again', { from: bob });
    await store.openAccount(
      bob.machine.identity.messagingId,
      { recordsMax: 100, bytesMax: 1 << 20 },
      'operator',
      wall(),
    );
    bob2.machine.start([], millis(now));
    await settle(bob2);
    assert.ok(![...bob2.rows.keys()].some((k) => k.startsWith('relay/ackq:')), 'written, so no longer owed');
    // Alice, listening on her contact's relay, takes it: her message is delivered.
    const aliceContact = alice.machine.messaging.addContact(bobSet.value, millis(now));
    assert.ok(aliceContact.ok);
    await settle(alice);
    assert.equal(alice.machine.relays.acks.length, 1);
    assert.ok(alice.events.some((e) => e.type === 'outbox' && e.state === 'delivered'));
  });
});
