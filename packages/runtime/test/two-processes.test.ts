import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createConnection } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type NodeId, Rng, bytesEqual, fromHex, unwrap } from '@postern/core';
import { createSodiumProvider } from '@postern/crypto';
import { createNodeKeys } from '@postern/transport';
import { WebSocket } from 'ws';
import { Host } from '../src/index.ts';

// Two OS processes over real loopback sockets: this process dials a digest node in a child process.
const MESSAGES = 10_000;
const WINDOW = 256; // messages in flight: the sender respects the link's backpressure
const PROTOCOL = 42;
const crypto = createSodiumProvider();

interface Child {
  process: ChildProcess;
  tcp: string;
  ws: string;
  nodeId: NodeId;
  stderr: string[];
}

let child: Child;
let replies: ((from: NodeId, bytes: Uint8Array) => void) | undefined;
const host = new Host({
  crypto,
  keys: createNodeKeys(crypto),
  onMessage: (from, _protocol, bytes) => replies?.(from, bytes),
});

before(async () => {
  const proc = spawn(
    process.execPath,
    ['--import', 'tsx', new URL('fixtures/digest-node.ts', import.meta.url).pathname],
    {
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  const stderr: string[] = [];
  proc.stderr.setEncoding('utf8').on('data', (text: string) => stderr.push(text));
  const line = await new Promise<string>((resolve, reject) => {
    let buffered = '';
    proc.stdout.setEncoding('utf8').on('data', (text: string) => {
      buffered += text;
      if (buffered.includes('\n')) resolve(buffered.split('\n')[0] as string);
    });
    proc.once('exit', (code) => reject(new Error(`digest node exited with ${code}: ${stderr.join('')}`)));
  });
  const info = JSON.parse(line) as { tcp: string; ws: string; nodeId: string };
  child = {
    process: proc,
    tcp: info.tcp,
    ws: info.ws,
    nodeId: unwrap(fromHex(info.nodeId)) as NodeId,
    stderr,
  };
});

after(async () => {
  await host.close();
  child.process.stdin?.end();
  await new Promise((resolve) => child.process.once('exit', resolve));
});

/** Sends MESSAGES seeded random messages, WINDOW at a time, and checks every digest that comes back. */
async function exchange(peer: NodeId, seed: string, midway?: () => void): Promise<number> {
  const rng = Rng.fromSeed(seed);
  const pending: Uint8Array[] = [];
  let sent = 0;
  let verified = 0;
  return new Promise<number>((resolve, reject) => {
    const sendMore = () => {
      while (sent < MESSAGES && pending.length < WINDOW) {
        const message = rng.bytes(1 + rng.int(2000));
        const result = host.send(peer, PROTOCOL, message);
        if (!result.ok) return reject(new Error(`send ${sent}: ${result.error.code}`));
        pending.push(message);
        sent++;
        if (sent === MESSAGES / 2) midway?.();
      }
    };
    replies = (from, digest) => {
      const expected = pending.shift();
      if (
        !bytesEqual(from, peer) ||
        expected === undefined ||
        !bytesEqual(digest, crypto.blake2b(expected, 32))
      ) {
        const at = pending.findIndex((m) => bytesEqual(crypto.blake2b(m, 32), digest));
        return reject(
          new Error(
            `reply ${verified} does not match the message sent (from peer: ${bytesEqual(from, peer)}, matches pending[${at}] of ${pending.length + 1}, digest ${digest.length} bytes)`,
          ),
        );
      }
      if (++verified === MESSAGES) return resolve(verified);
      sendMore();
    };
    sendMore();
  });
}

describe('two node processes over loopback', { timeout: 120_000 }, () => {
  it('exchange 10,000 messages over TCP, each verified, while a garbage-sending peer is cut off', async () => {
    const peer = await host.dial(child.tcp, { expectedNodeId: child.nodeId });
    assert.ok(bytesEqual(peer, child.nodeId));
    let cutOff: Promise<void> | undefined;
    const verified = await exchange(peer, 'tcp-exchange', () => {
      const { port } = new URL(child.tcp.replace('tcp:', 'http:'));
      const raw = createConnection({ host: '127.0.0.1', port: Number(port) });
      cutOff = new Promise((resolve) => raw.on('close', () => resolve()));
      raw.on('error', () => undefined);
      raw.write(Buffer.from([0x7f, 0xff, 0xff, 0xff, 0xde, 0xad, 0xbe, 0xef]));
    });
    assert.equal(verified, MESSAGES);
    await cutOff;
    assert.ok(host.isConnected(peer), 'the good link is still up');
    console.log(`tcp: ${verified} messages verified; the garbage peer was cut off`);
  });

  it('exchange 10,000 messages over WebSocket, each verified, while a text-sending peer is cut off', async () => {
    const peer = await host.dial(child.ws, { expectedNodeId: child.nodeId });
    let cutOff: Promise<void> | undefined;
    const verified = await exchange(peer, 'ws-exchange', () => {
      const raw = new WebSocket(child.ws);
      cutOff = new Promise((resolve) => raw.on('close', () => resolve()));
      raw.on('error', () => undefined);
      raw.on('open', () => raw.send('hello, I am not a Postern node'));
    });
    assert.equal(verified, MESSAGES);
    await cutOff;
    assert.ok(host.isConnected(peer));
    console.log(`ws: ${verified} messages verified; the text peer was cut off`);
  });

  it('reports why the misbehaving links were closed', () => {
    const log = child.stderr.join('');
    assert.match(log, /link closed: FrameTooLarge/);
  });
});
