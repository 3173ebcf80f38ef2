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

/** The receiving process (bench/fixtures/sink.ts), driven by one-line commands, each answered by one line. */
interface Sink {
  readonly raw: number;
  readonly link: string;
  /** Resolves once the sink has counted that many bytes, with the CPU milliseconds it spent on them. */
  expect(bytes: number): Promise<number>;
  /** Starts the sink's CPU clock; `cpuMs` reads it. */
  mark(): Promise<void>;
  cpuMs(): Promise<number>;
  stop(): void;
}

async function startSink(): Promise<Sink> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', new URL('fixtures/sink.ts', import.meta.url).pathname],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const lines = createInterface({ input: child.stdout });
  const answers: ((line: string) => void)[] = [];
  const first = new Promise<string>((resolve) => answers.push(resolve));
  lines.on('line', (line) => answers.shift()?.(line));
  const info = JSON.parse(await first) as { raw: number; link: string };
  const ask = (command: string) =>
    new Promise<string>((resolve) => {
      answers.push(resolve);
      child.stdin.write(`${command}\n`);
    });
  const number = (answer: string) => Number(answer.split(' ')[1]);
  return {
    ...info,
    expect: async (bytes) => number(await ask(`expect ${bytes}`)),
    mark: async () => void (await ask('mark')),
    cpuMs: async () => number(await ask('cpu')),
    stop: () => child.stdin.end(),
  };
}

/** One bulk transfer: its rate, and the CPU each process spent per MB (all threads, GC included). */
interface Transfer {
  readonly mbps: number;
  readonly senderCpuMsPerMB: number;
  readonly sinkCpuMsPerMB: number;
}

/** Times `send` (which resolves when it has queued everything) until the sink has counted `totalBytes`. */
async function timeTransfer(sink: Sink, totalBytes: number, send: () => void): Promise<Transfer> {
  const done = sink.expect(totalBytes);
  await new Promise((resolve) => setTimeout(resolve, 20)); // let the sink read its command first
  const start = performance.now();
  const cpu = process.cpuUsage();
  send();
  const sinkCpuMs = await done;
  const seconds = (performance.now() - start) / 1000;
  const used = process.cpuUsage(cpu);
  const mb = totalBytes / 1e6;
  return {
    mbps: mb / seconds,
    senderCpuMsPerMB: (used.user + used.system) / 1000 / mb,
    sinkCpuMsPerMB: sinkCpuMs / mb,
  };
}

async function rawThroughput(sink: Sink, chunkBytes: number, totalBytes: number): Promise<Transfer> {
  const client = createConnection({ port: sink.raw, host: '127.0.0.1' });
  await new Promise((resolve) => client.once('connect', resolve));
  const chunk = new Uint8Array(chunkBytes);
  let sent = 0;
  const write = () => {
    while (sent < totalBytes) {
      sent += chunkBytes;
      if (!client.write(chunk)) return void client.once('drain', write);
    }
  };
  const transfer = await timeTransfer(sink, totalBytes, write);
  client.destroy();
  return transfer;
}

async function linkThroughput(
  crypto: CryptoProvider,
  sink: Sink,
  messageBytes: number,
  totalBytes: number,
): Promise<Transfer> {
  let pushMore = () => undefined as void;
  const host = new Host({ crypto, keys: createNodeKeys(crypto), onDrained: () => pushMore() });
  const peerId = await host.dial(sink.link);
  const message = new Uint8Array(messageBytes);
  let sent = 0;
  pushMore = () => {
    while (sent < totalBytes && host.send(peerId, 1, message).ok) sent += messageBytes;
  };
  const transfer = await timeTransfer(sink, totalBytes, pushMore);
  await host.close();
  return transfer;
}

/** Handshakes over loopback: the wall-clock rate, and the responder's CPU per handshake. */
interface HandshakeRun {
  readonly perSecond: number;
  readonly responderCpuMs: number;
}

/**
 * Handshakes between two processes over loopback TCP: CONCURRENCY dials in flight from here, each a
 * fresh link that closes once established. The receiving process does the responder's side of
 * every handshake (TCP accept, Host, Noise, announcement check, close); its CPU time per handshake
 * gives the rate one core can answer.
 */
async function handshakesOverLoopback(
  crypto: CryptoProvider,
  sink: Sink,
  pattern: 'XX' | 'IK',
  seconds: number,
  dialers: 'returning' | 'new',
): Promise<HandshakeRun> {
  // Returning peers: PEERS of them take turns, as a node's contacts reconnect (one peer dialing
  // again and again would make each new link replace, and close, the one before at the responder).
  // New peers: a fresh identity for every dial, so the responder has seen no announcement before.
  const peers = Array.from({ length: PEERS }, () => peer(crypto));
  const nextPeer = () => (dialers === 'new' ? peer(crypto) : (peers[dials++ % PEERS] as Peer));
  const address = parseAddress(sink.link);
  const remoteStaticKey = pattern === 'IK' ? await learnStaticKey(crypto, sink.link) : undefined;
  let completed = 0;
  let dials = 0;
  const dialOnce = () =>
    new Promise<void>((resolve, reject) => {
      const socket = createConnection({ host: address.host, port: address.port });
      socket.once('error', reject);
      socket.once('connect', () => {
        const link = new Link({
          crypto,
          ...nextPeer(),
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
  await sink.mark();
  const start = performance.now();
  const deadline = start + seconds * 1000;
  const worker = async () => {
    while (performance.now() < deadline) await dialOnce();
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const elapsed = (performance.now() - start) / 1000;
  // The sink closes the last links just after: that work belongs to them too.
  await new Promise((resolve) => setTimeout(resolve, 50));
  const responderCpuMs = await sink.cpuMs();
  return { perSecond: completed / elapsed, responderCpuMs: responderCpuMs / completed };
}

const CONCURRENCY = 32;
const PEERS = 256;

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
  const aead = aeadMsPerMB(crypto, opts);
  console.log(
    `  ChaCha20-Poly1305 alone, full 64 KiB records sealed then opened in place: ${aead.toFixed(2)} ms CPU per MB`,
  );
  const runs = quick ? 1 : 5;
  const seconds = quick ? 1 : 2;
  const sink = await startSink();
  const cases = [
    ['XX', 'new', 'new peers: a fresh identity per dial'],
    ['XX', 'returning', `returning peers: ${PEERS} taking turns, their announcements verified before`],
    ['IK', 'returning', `returning peers: ${PEERS} taking turns`],
  ] as const;
  for (const [pattern, dialers, who] of cases) {
    await handshakesOverLoopback(crypto, sink, pattern, 1, dialers); // warm-up: both processes compile the hot paths
    const results: HandshakeRun[] = [];
    for (let i = 0; i < runs; i++)
      results.push(await handshakesOverLoopback(crypto, sink, pattern, seconds, dialers));
    const perCore = results.map((r) => 1000 / r.responderCpuMs);
    console.log(
      `  ${pattern} handshakes between two processes over loopback TCP, ${who}: ` +
        `${median(results.map((r) => r.perSecond)).toFixed(0)} /s; responder ` +
        `${median(results.map((r) => r.responderCpuMs * 1000)).toFixed(0)} µs CPU each = ` +
        `${median(perCore).toFixed(0)} /s per core (runs ${range(perCore)}; median of ${runs} runs of ` +
        `${seconds} s after a warm-up, ${CONCURRENCY} dials in flight)`,
    );
  }
  await throughput(crypto, sink, aead, quick);
  sink.stop();
}

/** Link throughput next to a raw socket, in paired runs, with the CPU each costs per MB. */
async function throughput(
  crypto: CryptoProvider,
  sink: Sink,
  aeadMsPerMB: number,
  quick: boolean,
): Promise<void> {
  const total = quick ? 16e6 : 256e6;
  const runs = quick ? 1 : 5;
  // 65,513 bytes: the payload of one full 64 KiB Noise frame (65,535 − 16-byte tag − 6-byte record header).
  for (const size of [1024, 65_513, 1024 * 1024]) {
    const raw: Transfer[] = [];
    const link: Transfer[] = [];
    for (let i = 0; i < runs; i++) {
      raw.push(await rawThroughput(sink, size, total));
      link.push(await linkThroughput(crypto, sink, size, total));
    }
    const ratios = link.map((l, i) => l.mbps / (raw[i] as Transfer).mbps);
    const cpu = (t: Transfer[]) =>
      `${median(t.map((x) => x.senderCpuMsPerMB)).toFixed(2)} + ${median(t.map((x) => x.sinkCpuMsPerMB)).toFixed(2)}`;
    // What two cores could carry if a link cost only what the raw socket costs plus the AEAD.
    const rawCpu = median(raw.map((x) => x.senderCpuMsPerMB + x.sinkCpuMsPerMB));
    const boundMbps = 2000 / (rawCpu + aeadMsPerMB);
    console.log(
      `  loopback TCP, ${size.toLocaleString('en')}-byte messages: raw socket ${median(raw.map((r) => r.mbps)).toFixed(0)} MB/s ` +
        `(runs ${range(raw.map((r) => r.mbps))}), Postern link ${median(link.map((l) => l.mbps)).toFixed(0)} MB/s, ` +
        `ratio ${median(ratios).toFixed(2)} (runs ${range(ratios, 2)}); CPU ms per MB sender + receiver: ` +
        `raw ${cpu(raw)}, link ${cpu(link)}; two cores at raw + AEAD cost would carry ${boundMbps.toFixed(0)} MB/s ` +
        `(median of ${runs} paired runs of ${total / 1e6} MB)`,
    );
  }
}

/** The cipher's own cost per MB of full records, sealed then opened in place as a link does. */
function aeadMsPerMB(crypto: CryptoProvider, opts: { rounds?: number; roundMs?: number }): number {
  const key = crypto.randomBytes(32);
  const nonce = new Uint8Array(12);
  const record = new Uint8Array(65_535); // 65,519 bytes of plaintext, then room for the tag
  const m = measure(
    'seal+open',
    () => {
      crypto.chacha20poly1305EncryptInPlace(key, nonce, record, EMPTY);
      if (!crypto.chacha20poly1305DecryptInPlace(key, nonce, record, EMPTY).ok)
        throw new Error('open failed');
    },
    opts,
  );
  return 1000 / m.opsPerSec / (65_519 / 1e6);
}

const EMPTY = new Uint8Array(0);

function range(values: number[], digits = 0): string {
  return `${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)}`;
}
