// Links: Noise handshakes per second (both sides in one thread, in memory: the CPU a handshake
// costs), and payload throughput over loopback TCP from this process to a receiving process (its own
// core, as two real nodes), next to a raw TCP socket between the same two processes in the same run.
import { spawn } from 'node:child_process';
import { createConnection } from 'node:net';
import { createInterface } from 'node:readline';
import { performance } from 'node:perf_hooks';
import type { Millis } from '@postern/core';
import { type CryptoProvider, createSodiumProvider } from '@postern/crypto';
import { Host, LinkDriver, parseAddress, systemClock, tcpStream } from '@postern/runtime';
import { Link, createNodeKeys, signAnnouncement } from '@postern/transport';
import { formatRate, measure, median } from './harness.ts';

const NOW = 0 as Millis;

function handshake(crypto: CryptoProvider, pattern: 'XX' | 'IK', a: Peer, b: Peer): void {
  const initiator = new Link({
    crypto,
    ...a,
    role: 'initiator',
    now: NOW,
    ...(pattern === 'IK' ? { pattern, remoteStaticKey: b.keys.staticKey.publicKey } : {}),
  });
  const responder = new Link({ crypto, ...b, role: 'responder', now: NOW });
  for (let i = 0; i < 4 && (initiator.state !== 'established' || responder.state !== 'established'); i++) {
    for (const chunk of initiator.pull(65_536, NOW)) responder.receive(chunk, NOW);
    for (const chunk of responder.pull(65_536, NOW)) initiator.receive(chunk, NOW);
  }
  if (initiator.state !== 'established' || responder.state !== 'established')
    throw new Error('handshake failed');
}

type Peer = { keys: ReturnType<typeof createNodeKeys>; announcement: ReturnType<typeof signAnnouncement> };

function peer(crypto: CryptoProvider): Peer {
  const keys = createNodeKeys(crypto);
  return {
    keys,
    announcement: signAnnouncement(crypto, keys, {
      capabilities: [],
      addresses: ['tcp://127.0.0.1:7400'],
      timestampMs: 0,
    }),
  };
}

/** A receiving process: `expect(bytes)` resolves once the sink has counted that many bytes. */
async function startSink(): Promise<{
  raw: number;
  link: string;
  expect(bytes: number): Promise<void>;
  stop(): void;
}> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', new URL('fixtures/sink.ts', import.meta.url).pathname],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  const lines = createInterface({ input: child.stdout });
  const waiting: (() => void)[] = [];
  const first = new Promise<string>((resolve) => lines.once('line', resolve));
  const info = JSON.parse(await first) as { raw: number; link: string };
  lines.on('line', (line) => line === 'done' && waiting.shift()?.());
  return {
    ...info,
    expect: (bytes) => {
      child.stdin.write(`expect ${bytes}\n`);
      return new Promise<void>((resolve) => waiting.push(resolve));
    },
    stop: () => child.stdin.end(),
  };
}

async function rawThroughput(
  sink: Awaited<ReturnType<typeof startSink>>,
  chunkBytes: number,
  totalBytes: number,
): Promise<number> {
  const client = createConnection({ port: sink.raw, host: '127.0.0.1' });
  await new Promise((resolve) => client.once('connect', resolve));
  const done = sink.expect(totalBytes);
  await new Promise((resolve) => setTimeout(resolve, 20)); // let the sink read its command first
  const chunk = new Uint8Array(chunkBytes);
  const start = performance.now();
  let sent = 0;
  const write = () => {
    while (sent < totalBytes) {
      sent += chunkBytes;
      if (!client.write(chunk)) return void client.once('drain', write);
    }
  };
  write();
  await done;
  const mbps = totalBytes / 1e6 / ((performance.now() - start) / 1000);
  client.destroy();
  return mbps;
}

async function linkThroughput(
  crypto: CryptoProvider,
  sink: Awaited<ReturnType<typeof startSink>>,
  messageBytes: number,
  totalBytes: number,
): Promise<number> {
  let pushMore = () => undefined as void;
  const host = new Host({ crypto, keys: createNodeKeys(crypto), onDrained: () => pushMore() });
  const peerId = await host.dial(sink.link);
  const done = sink.expect(totalBytes);
  await new Promise((resolve) => setTimeout(resolve, 20));
  const message = new Uint8Array(messageBytes);
  let sent = 0;
  pushMore = () => {
    while (sent < totalBytes && host.send(peerId, 1, message).ok) sent += messageBytes;
  };
  const start = performance.now();
  pushMore();
  await done;
  const mbps = totalBytes / 1e6 / ((performance.now() - start) / 1000);
  await host.close();
  return mbps;
}

/**
 * Handshakes per second between two processes over loopback TCP, each process on its own core:
 * CONCURRENCY dials in flight from here, each a fresh link that closes once established. The
 * receiving process does the responder's side of every handshake: this is its rate per core.
 */
async function handshakesOverLoopback(
  crypto: CryptoProvider,
  sink: Awaited<ReturnType<typeof startSink>>,
  pattern: 'XX' | 'IK',
  seconds: number,
): Promise<number> {
  const me = peer(crypto);
  const address = parseAddress(sink.link);
  const remoteStaticKey = pattern === 'IK' ? await learnStaticKey(crypto, sink.link) : undefined;
  const deadline = performance.now() + seconds * 1000;
  let completed = 0;
  const dialOnce = () =>
    new Promise<void>((resolve, reject) => {
      const socket = createConnection({ host: address.host, port: address.port });
      socket.once('error', reject);
      socket.once('connect', () => {
        const link = new Link({
          crypto,
          ...me,
          role: 'initiator',
          now: systemClock.monotonic(),
          ...(remoteStaticKey ? { pattern: 'IK' as const, remoteStaticKey } : {}),
        });
        const driver = new LinkDriver(link, tcpStream(socket), systemClock, (event) => {
          if (event.type === 'established') {
            completed++;
            socket.destroy();
            resolve();
          } else if (event.type === 'closed') resolve();
        });
        void driver;
      });
    });
  const worker = async () => {
    while (performance.now() < deadline) await dialOnce();
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return completed / ((performance.now() - start) / 1000);
}

const CONCURRENCY = 32;

async function learnStaticKey(crypto: CryptoProvider, address: string): Promise<Uint8Array> {
  let staticKey: Uint8Array | undefined;
  const host = new Host({
    crypto,
    keys: createNodeKeys(crypto),
    onLinkUp: (_id, announcement) => (staticKey = announcement.staticKey),
  });
  await host.dial(address);
  await host.close();
  return staticKey as Uint8Array;
}

export async function runTransportBench(quick: boolean): Promise<void> {
  const crypto = createSodiumProvider();
  const opts = quick ? { rounds: 3, roundMs: 100 } : {};
  const [a, b] = [peer(crypto), peer(crypto)];
  console.log('\nlinks (sodium-native)');
  for (const pattern of ['XX', 'IK'] as const) {
    const m = measure(
      `${pattern} handshake, both sides in one thread`,
      () => handshake(crypto, pattern, a, b),
      opts,
    );
    console.log(`  ${m.name.padEnd(58)} ${formatRate(m.opsPerSec).padStart(11)}`);
  }
  const total = quick ? 16e6 : 256e6;
  const runs = quick ? 1 : 3;
  const sink = await startSink();
  for (const pattern of ['XX', 'IK'] as const) {
    const rates: number[] = [];
    for (let i = 0; i < runs; i++)
      rates.push(await handshakesOverLoopback(crypto, sink, pattern, quick ? 1 : 3));
    console.log(
      `  ${pattern} handshakes between two processes over loopback TCP: ${median(rates).toFixed(0)} /s ` +
        `(median of ${runs} runs of ${quick ? 1 : 3} s, ${CONCURRENCY} dials in flight; the responder's rate per core)`,
    );
  }
  // 65,513 bytes: the payload of one full 64 KiB Noise frame (65,535 − 16-byte tag − 6-byte record header).
  for (const size of [1024, 65_513, 1024 * 1024]) {
    const raw: number[] = [];
    const link: number[] = [];
    for (let i = 0; i < runs; i++) {
      raw.push(await rawThroughput(sink, size, total));
      link.push(await linkThroughput(crypto, sink, size, total));
    }
    const ratio = median(link.map((l, i) => l / (raw[i] as number)));
    console.log(
      `  loopback TCP, ${size.toLocaleString('en')}-byte messages: raw socket ${median(raw).toFixed(0)} MB/s, ` +
        `Postern link ${median(link).toFixed(0)} MB/s, ratio ${ratio.toFixed(2)} (median of ${runs} paired runs of ${total / 1e6} MB)`,
    );
  }
  sink.stop();
}
