import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Millis, type NodeId, bytesEqual, utf8 } from '@postern/core';
import { encodeFrame } from '@postern/wire';
import { Link, nodeIdOf, signAnnouncement } from '../src/index.ts';
import { LinkPair, crypto, node } from './link-pair.ts';

const text = (s: string) => utf8(s);

describe('a link', () => {
  it('completes an XX handshake: each side learns the other node id and signed announcement', () => {
    const pair = new LinkPair();
    pair.pump();
    const upA = pair.eventsA.find((e) => e.type === 'established');
    const upB = pair.eventsB.find((e) => e.type === 'established');
    assert.ok(upA?.type === 'established' && upB?.type === 'established');
    assert.ok(bytesEqual(upA.nodeId, nodeIdOf(crypto, upA.announcement.staticKey)));
    assert.deepEqual(upA.announcement.capabilities, ['test']);
    assert.ok(bytesEqual(upA.handshakeHash, upB.handshakeHash));
    assert.equal(pair.a.state, 'established');
    assert.equal(pair.b.state, 'established');
  });

  it('carries messages of several protocols both ways, in order per protocol', () => {
    const pair = new LinkPair();
    for (let i = 0; i < 5; i++) {
      assert.ok(pair.a.send(1, text(`a1-${i}`)).ok);
      assert.ok(pair.a.send(2, text(`a2-${i}`)).ok);
      assert.ok(pair.b.send(1, text(`b1-${i}`)).ok);
    }
    pair.pump();
    const atB = pair.messages('b');
    assert.deepEqual(
      atB.filter((m) => m.protocol === 1).map((m) => m.text),
      [0, 1, 2, 3, 4].map((i) => `a1-${i}`),
    );
    assert.deepEqual(
      atB.filter((m) => m.protocol === 2).map((m) => m.text),
      [0, 1, 2, 3, 4].map((i) => `a2-${i}`),
    );
    assert.deepEqual(
      pair.messages('a').map((m) => m.text),
      [0, 1, 2, 3, 4].map((i) => `b1-${i}`),
    );
  });

  it('completes an IK handshake when the dialer knows the peer static key', () => {
    const bob = node('bob');
    const pair = new LinkPair({
      initiator: {
        pattern: 'IK',
        remoteStaticKey: bob.keys.staticKey.publicKey,
        expectedNodeId: bob.keys.nodeId,
      },
      responder: { keys: bob.keys, announcement: bob.announcement },
    });
    pair.a.send(7, text('hello'));
    pair.pump();
    assert.deepEqual(pair.messages('b'), [{ protocol: 7, text: 'hello' }]);
    assert.ok(pair.a.remoteNodeId && bytesEqual(pair.a.remoteNodeId, bob.keys.nodeId));
  });

  it('fails an IK handshake to a node whose static key is not the one expected', () => {
    const stranger = node('stranger');
    const pair = new LinkPair({
      initiator: { pattern: 'IK', remoteStaticKey: stranger.keys.staticKey.publicKey },
    });
    pair.pump();
    assert.equal(pair.closed('b')?.code, 'HandshakeFailed');
    pair.advance(pair.a.limits.handshakeTimeoutMs);
    assert.equal(pair.closed('a')?.code, 'HandshakeTimeout');
  });

  it('refuses a peer that is not the node it dialed', () => {
    const pair = new LinkPair({ initiator: { expectedNodeId: new Uint8Array(32).fill(9) as NodeId } });
    pair.pump();
    assert.equal(pair.closed('a')?.code, 'UnexpectedNode');
  });

  it('refuses an announcement signed for another static key', () => {
    const mallory = node('mallory');
    const bob = node('bob');
    // Mallory presents Bob's announcement with her own static key.
    const pair = new LinkPair({ responder: { keys: mallory.keys, announcement: bob.announcement } });
    pair.pump();
    assert.equal(pair.closed('a')?.code, 'BadAnnouncement');
  });

  it('fragments a 1 MiB message and lets a small message of another protocol through meanwhile', () => {
    const pair = new LinkPair();
    pair.pump();
    const big = new Uint8Array(1024 * 1024).map((_, i) => i % 251);
    assert.ok(pair.a.send(1, big).ok);
    assert.ok(pair.a.send(2, text('small')).ok);
    pair.pump(70_000); // about one fragment per turn
    const messages = pair.eventsB.filter((e) => e.type === 'message');
    assert.equal(messages.length, 2);
    assert.ok(messages[0]?.type === 'message' && messages[0].protocol === 2, 'the small one arrives first');
    assert.ok(messages[1]?.type === 'message' && bytesEqual(messages[1].bytes, big));
  });

  it('answers a full queue with LINK_QUEUE_FULL for that protocol only, then reports it drained', () => {
    const pair = new LinkPair({ initiator: { limits: { queueBytesPerProtocolMax: 100_000 } } });
    pair.pump();
    const chunk = new Uint8Array(30_000);
    let accepted = 0;
    while (pair.a.send(1, chunk).ok) accepted++;
    assert.equal(accepted, 3);
    assert.deepEqual(pair.a.send(1, chunk), { ok: false, error: { code: 'LINK_QUEUE_FULL', protocol: 1 } });
    assert.ok(pair.a.send(2, chunk).ok, 'another protocol still sends');
    pair.pump();
    assert.ok(pair.eventsA.some((e) => e.type === 'drained' && e.protocol === 1));
    assert.equal(pair.eventsB.filter((e) => e.type === 'message').length, 4);
  });

  it('rekeys both directions on schedule and keeps every message', () => {
    const limits = { rekeyIntervalMessages: 3 };
    const pair = new LinkPair({ initiator: { limits }, responder: { limits } });
    for (let i = 0; i < 20; i++) {
      pair.a.send(1, text(`m${i}`));
      pair.b.send(1, text(`r${i}`));
      pair.pump();
    }
    assert.equal(pair.messages('b').length, 20);
    assert.equal(pair.messages('a').length, 20);
    assert.equal(pair.closed('a'), undefined);
  });

  it('closes gracefully: queued messages arrive, then the peer hears why', () => {
    const pair = new LinkPair();
    pair.pump();
    pair.a.send(1, text('last words'));
    pair.a.close(pair.now);
    assert.deepEqual(pair.a.send(1, text('too late')), { ok: false, error: { code: 'LINK_CLOSED' } });
    pair.pump();
    assert.deepEqual(pair.messages('b'), [{ protocol: 1, text: 'last words' }]);
    assert.deepEqual(pair.closed('b'), { type: 'closed', code: 'Normal', detail: 'bye', byPeer: true });
    assert.equal(pair.closed('a')?.byPeer, false);
  });
});

describe('a link under attack or failure', () => {
  it('cuts a peer whose frame was altered in flight, and says why', () => {
    let frames = 0;
    const pair = new LinkPair({
      tamper: (from, bytes) => {
        if (from === 'a' && ++frames === 3) bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 1;
        return bytes;
      },
    });
    pair.pump();
    pair.a.send(1, text('x'));
    pair.pump();
    assert.equal(pair.closed('b')?.code, 'DecryptFailed');
    assert.equal(pair.closed('a')?.code, 'DecryptFailed', 'the peer was told');
    assert.equal(pair.closed('a')?.byPeer, true);
  });

  it('cuts a peer that replays a frame', () => {
    let captured: Uint8Array | undefined;
    const pair = new LinkPair({
      tamper: (from, bytes) => {
        if (from === 'a' && pair.a.state === 'established' && captured === undefined)
          captured = bytes.slice();
        return bytes;
      },
    });
    pair.pump();
    pair.a.send(1, text('once'));
    pair.pump();
    assert.ok(captured);
    pair.b.receive(captured, pair.now);
    pair.drain();
    assert.equal(pair.closed('b')?.code, 'DecryptFailed');
    assert.deepEqual(pair.messages('b'), [{ protocol: 1, text: 'once' }]);
  });

  it('cuts a peer that announces a frame larger than allowed, without buffering it', () => {
    const pair = new LinkPair();
    pair.pump();
    pair.b.receive(new Uint8Array([0x7f, 0xff, 0xff, 0xff, 1, 2, 3]), pair.now);
    pair.drain();
    assert.equal(pair.closed('b')?.code, 'FrameTooLarge');
  });

  it('cuts a handshake that does not start with a known pattern', () => {
    const { keys, announcement } = node('bob');
    const link = new Link({ crypto, keys, announcement, role: 'responder', now: 0 as Millis });
    link.receive(encodeFrame(new Uint8Array([9, 1, 2, 3])), 0 as Millis);
    const output = link.pollOutput();
    assert.ok(
      output.type === 'event' && output.event.type === 'closed' && output.event.code === 'ProtocolViolation',
    );
  });

  it('times out a stalled handshake', () => {
    const { keys, announcement } = node('bob');
    const link = new Link({ crypto, keys, announcement, role: 'responder', now: 0 as Millis });
    assert.deepEqual(link.pollOutput(), { type: 'timeout', at: link.limits.handshakeTimeoutMs });
    link.handleTimeout(link.limits.handshakeTimeoutMs as Millis);
    const output = link.pollOutput();
    assert.ok(
      output.type === 'event' && output.event.type === 'closed' && output.event.code === 'HandshakeTimeout',
    );
  });

  it('pings when idle and closes when the peer stays silent', () => {
    const pair = new LinkPair();
    pair.pump();
    const keepalive = pair.a.limits.keepaliveMs;
    pair.advance(keepalive);
    pair.pump();
    assert.equal(pair.closed('a'), undefined, 'ping and pong kept it alive');
    pair.advance(2 * keepalive); // now nothing is pumped: the peer is silent
    assert.equal(pair.closed('a')?.code, 'IdleTimeout');
  });

  it('refuses to start IK without the remote key, and bad protocol ids or sizes from the caller', () => {
    const { keys, announcement } = node('alice');
    assert.throws(
      () => new Link({ crypto, keys, announcement, role: 'initiator', pattern: 'IK', now: 0 as Millis }),
      {
        code: 'LINK_IK_NEEDS_KEY',
      },
    );
    const pair = new LinkPair();
    assert.throws(() => pair.a.send(0, text('x')), { code: 'LINK_BAD_PROTOCOL' });
    assert.throws(() => pair.a.send(1, new Uint8Array(pair.a.limits.messageBytesMax + 1)), {
      code: 'LINK_MESSAGE_TOO_LARGE',
    });
  });

  it('checks its announcement signature against the node signing key', () => {
    const bob = node('bob');
    const forged = { ...bob.announcement, capabilities: ['relay'] };
    const pair = new LinkPair({ responder: { keys: bob.keys, announcement: forged } });
    pair.pump();
    assert.equal(pair.closed('a')?.code, 'BadAnnouncement');
    assert.ok(signAnnouncement);
  });
});
