import assert from 'node:assert/strict';
import { createConnection } from 'node:net';
import { after, describe, it } from 'node:test';
import { type Millis, type NodeId, bytesEqual, utf8 } from '@postern/core';
import { createSodiumProvider } from '@postern/crypto';
import { type NodeAnnouncement, createNodeKeys } from '@postern/transport';
import { DialError, Host, type HostOptions } from '../src/index.ts';

const crypto = createSodiumProvider();
const hosts: Host[] = [];
after(async () => {
  await Promise.all(hosts.map((h) => h.close()));
});

function newHost(options: Partial<HostOptions> = {}): Host {
  const host = new Host({ crypto, keys: createNodeKeys(crypto), ...options });
  hosts.push(host);
  return host;
}

/**
 * Waits, turn by turn of the event loop, until `done()` holds; never a timed sleep. Bounded by time
 * rather than turns: loopback events arrive after a few milliseconds on a loaded machine, and a turn
 * of an idle loop takes microseconds.
 */
async function eventually(done: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!done() && performance.now() < deadline) await new Promise((resolve) => setImmediate(resolve));
  assert.ok(done(), what);
}

describe('the host (connection manager)', { timeout: 60_000 }, () => {
  it('keeps one link when two nodes dial each other at the same time', async () => {
    const ups: string[] = [];
    const received: string[] = [];
    const a = newHost({ onLinkUp: () => ups.push('a') });
    const b = newHost({
      onLinkUp: () => ups.push('b'),
      onMessage: (_from, _protocol, bytes) => received.push(new TextDecoder().decode(bytes)),
    });
    const [addressA, addressB] = [await a.listenTcp(0), await b.listenTcp(0)];
    const [toB, toA] = await Promise.all([a.dial(addressB), b.dial(addressA)]);
    assert.ok(bytesEqual(toB, b.nodeId) && bytesEqual(toA, a.nodeId));
    await eventually(() => a.connectionCount === 1 && b.connectionCount === 1, 'one link left on each side');
    assert.deepEqual(ups.sort(), ['a', 'b'], 'each side saw the peer come up once');
    assert.ok(a.send(b.nodeId, 1, utf8('after the race')).ok);
    await eventually(() => received.length === 1, 'the surviving link carries messages');
    assert.deepEqual(received, ['after the race']);
  });

  it('shares one attempt between dials to the same address and reuses a link to a known node', async () => {
    const a = newHost();
    const b = newHost();
    const address = await b.listenTcp(0);
    const [first, second] = await Promise.all([a.dial(address), a.dial(address)]);
    assert.ok(bytesEqual(first, second));
    assert.equal(a.connectionCount, 1);
    assert.ok(bytesEqual(await a.dial(address, { expectedNodeId: b.nodeId }), b.nodeId));
    assert.equal(a.connectionCount, 1);
  });

  it('delivers messages and reports the peer announcement, over WebSocket too', async () => {
    const messages: string[] = [];
    let announcement: NodeAnnouncement | undefined;
    const a = newHost({ onLinkUp: (_id, ann) => (announcement = ann) });
    const b = newHost({
      capabilities: ['relay'],
      onMessage: (_from, protocol, bytes) => messages.push(`${protocol}:${new TextDecoder().decode(bytes)}`),
    });
    const address = await b.listenWebSocket(0);
    const peer = await a.dial(address, { expectedNodeId: b.nodeId });
    assert.ok(a.send(peer, 5, utf8('over ws')).ok);
    await eventually(() => messages.length === 1, 'the message arrives');
    assert.deepEqual(messages, ['5:over ws']);
    assert.deepEqual(announcement?.capabilities, ['relay']);
    assert.deepEqual(announcement?.addresses, [address]);
  });

  it('reconnects with IK using the static key from an announcement', async () => {
    let announcement: NodeAnnouncement | undefined;
    const a = newHost({ onLinkUp: (_id, ann) => (announcement = ann) });
    const b = newHost();
    const address = await b.listenTcp(0);
    await a.dial(address);
    await a.close();
    const a2 = newHost();
    const peer = await a2.dial(address, {
      expectedNodeId: b.nodeId,
      remoteStaticKey: (announcement as NodeAnnouncement).staticKey,
    });
    assert.ok(bytesEqual(peer, b.nodeId));
  });

  it('refuses inbound connections beyond its limit', async () => {
    const server = newHost({ limits: { connectionsMax: 1 } });
    const address = await server.listenTcp(0);
    await newHost().dial(address);
    await assert.rejects(newHost().dial(address), DialError);
    assert.equal(server.connectionCount, 1);
  });

  it('backs off after a failed dial, saying when to retry', async () => {
    const a = newHost();
    const b = newHost();
    const address = await b.listenTcp(0);
    await b.close(); // nothing listens there any more
    await assert.rejects(a.dial(address), (e: unknown) => e instanceof DialError && e.code === 'DIAL_FAILED');
    await assert.rejects(
      a.dial(address),
      (e: unknown) => e instanceof DialError && e.code === 'DIAL_BACKOFF' && e.retryAtMs !== undefined,
    );
  });

  it('refuses a dial that reaches a node other than the one expected', async () => {
    const a = newHost();
    const b = newHost();
    const address = await b.listenTcp(0);
    await assert.rejects(
      a.dial(address, { expectedNodeId: new Uint8Array(32).fill(1) as NodeId }),
      (e: unknown) => e instanceof DialError && /UnexpectedNode/.test(e.message),
    );
  });

  it('rejects a dial with a bad static key instead of crashing', async () => {
    const a = newHost();
    const b = newHost();
    const address = await b.listenTcp(0);
    await assert.rejects(a.dial(address, { remoteStaticKey: new Uint8Array(31) }), {
      code: 'NOISE_BAD_KEY_LENGTH',
    });
    await assert.rejects(a.dial(address, { remoteStaticKey: new Uint8Array(32) }), { code: 'NOISE_BAD_KEY' });
    await assert.rejects(
      a.dial('tcp://nowhere'),
      (e: unknown) => e instanceof DialError && e.code === 'DIAL_BAD_ADDRESS',
    );
  });

  it('falls back to XX when the peer refuses an IK handshake (its static key changed)', async () => {
    const a = newHost();
    const b = newHost();
    const address = await b.listenTcp(0);
    const stale = createNodeKeys(crypto).staticKey.publicKey;
    const peer = await a.dial(address, { remoteStaticKey: stale });
    assert.ok(bytesEqual(peer, b.nodeId));
  });

  it('checks each caller of a shared dial against the node it expects', async () => {
    const a = newHost();
    const b = newHost();
    const address = await b.listenTcp(0);
    const [right, wrong] = await Promise.allSettled([
      a.dial(address, { expectedNodeId: b.nodeId }),
      a.dial(address, { expectedNodeId: new Uint8Array(32).fill(7) as NodeId }),
    ]);
    assert.equal(right.status, 'fulfilled');
    assert.equal(wrong.status, 'rejected');
  });

  it('refuses dials and sends once closed', async () => {
    const a = newHost();
    const b = newHost();
    const address = await b.listenTcp(0);
    await a.dial(address);
    await a.close();
    await assert.rejects(
      a.dial(address),
      (e: unknown) => e instanceof DialError && e.code === 'DIAL_HOST_CLOSED',
    );
    assert.deepEqual(a.send(b.nodeId, 1, utf8('x')), { ok: false, error: { code: 'HOST_CLOSED' } });
  });

  it('counts connections until their sockets close, so half-open peers cannot exceed the limit', async () => {
    const server = newHost({ limits: { connectionsMax: 3 } });
    const address = await server.listenTcp(0);
    const port = Number(address.split(':').pop());
    const clients = [];
    for (let i = 0; i < 6; i++) {
      // A client that never closes its side, after sending an oversize frame header (the link fails at once).
      const socket = createConnection({ host: '127.0.0.1', port, allowHalfOpen: true });
      socket.on('error', () => undefined);
      clients.push(socket);
      await new Promise((resolve) => socket.once('connect', resolve));
      socket.write(new Uint8Array([0x7f, 0xff, 0xff, 0xff]));
      await eventually(() => server.connectionCount <= 3, 'never more than the limit');
    }
    await server.close();
    assert.equal(server.connectionCount, 0, 'every socket the server held is gone after close');
    for (const socket of clients) socket.destroy();
  });

  it('keeps a new link from a restarted peer over a stale one', async () => {
    let fakeNow = 1_000_000;
    const clock = { monotonic: () => fakeNow as Millis, wall: () => Date.now() as Millis };
    const received: string[] = [];
    const a = newHost({ clock });
    const addressA = await a.listenTcp(0);
    const keysB = createNodeKeys(crypto);
    const b = newHost({ keys: keysB });
    await a.dial(await b.listenTcp(0));
    fakeNow += 60_000; // long after: B's process restarts with the same keys and dials A
    const b2 = newHost({
      keys: keysB,
      onMessage: (_f, _p, bytes) => received.push(new TextDecoder().decode(bytes)),
    });
    await b2.dial(addressA);
    await eventually(
      () => a.send(keysB.nodeId, 1, utf8('to the new B')).ok && received.length === 1,
      'A reaches the restarted B',
    );
    assert.deepEqual(received.slice(0, 1), ['to the new B']);
  });
});
