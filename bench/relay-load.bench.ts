// The relay under load: a relay process (apps/relay, as an operator runs it) and this process as the
// load generator, over loopback WebSockets. Writers keep one signed write in flight each (a closed
// loop: as fast as the relay acknowledges durably); readers listen and pull every record pushed to
// them. The relay's CPU and RSS are read from /proc. Then a quota fills, to show the explicit
// "full" and that a client backing off makes no retry storm.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import postgres from 'postgres';
import { createSodiumProvider } from '@postern/crypto';
import { ChildJsonLines } from '@postern/testkit';
import { toBase64url } from '@postern/core';
import {
  type RelayRequest,
  type SigningKey,
  decodeRelayMessage,
  encodeRelayMessage,
  parseRelayAddress,
  relayLimits,
  signRelayMessage,
} from '@postern/relay';
import { WebSocket } from 'ws';

import {
  PgRelayStore,
  RelayClient,
  RelayClientError,
  SqliteRelayStore,
  encodeJsonFrame,
} from '@postern/runtime';

const crypto = createSodiumProvider();
const MAIN = new URL('../apps/relay/src/main.ts', import.meta.url).pathname;
const CONTENT_BYTES = 512;
const TTL_MS = 10 * 60_000;

export interface RelayLoadOptions {
  readonly storage: 'sqlite' | 'postgresql';
  readonly writers: number;
  readonly readers: number;
  readonly warmupMs: number;
  readonly measureMs: number;
  /** PostgreSQL URL (a fresh schema is made in it), for storage 'postgresql'. */
  readonly pgUrl?: string;
  /** The relay's signature-verifying worker threads. */
  readonly verifyThreads: number;
  /** Whether readers read every record pushed to them (else they only listen). */
  readonly pullAll: boolean;
  /** The WebSocket form: seed 003's JSON in text frames (default), or CBOR in binary frames. */
  readonly form?: 'json' | 'cbor';
}

export interface RelayLoadFigures {
  readonly storage: string;
  readonly form: 'json' | 'cbor';
  readonly verifyThreads: number;
  readonly pullAll: boolean;
  readonly connections: number;
  readonly writesPerSec: number;
  readonly readsPerSec: number;
  readonly ackP50Ms: number;
  readonly ackP99Ms: number;
  readonly relayCpuPercent: number;
  readonly relayRssMiB: number;
  readonly generatorCpuPercent: number;
  readonly errors: Record<string, number>;
}

/** A relay process, where it listens, and what it uses. */
class RelayProcess {
  readonly #io = new ChildJsonLines('relay');
  readonly child: ChildProcess;
  readonly started: Promise<{ address: string }>;

  constructor(args: string[]) {
    // RELAY_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR" profiles the relay process.
    const nodeArgs = process.env['RELAY_NODE_ARGS']?.split(' ').filter((a) => a !== '') ?? [];
    this.child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', MAIN, 'start', ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    this.#io.attach(this.child);
    this.started = this.#io.waitFor((line) => line['event'] === 'started') as Promise<{ address: string }>;
  }

  /** User + system CPU seconds and resident memory, from /proc. */
  usage(): { cpuSeconds: number; rssBytes: number } {
    const stat = readFileSync(`/proc/${this.child.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${this.child.pid}/status`, 'utf8'));
    return { cpuSeconds: ticks / 100, rssBytes: Number(rss?.[1] ?? 0) * 1024 };
  }

  async stop(): Promise<void> {
    await this.#io.kill('SIGTERM');
  }
}

function key(): SigningKey {
  return crypto.ed25519KeyPairFromSeed(crypto.randomBytes(32));
}

/**
 * A lean client for load: signs with the real code and sends seed 003's JSON, but matches answers
 * by nonce without checking the relay's signature (the tests check that; a generator that verified
 * four signatures per record would measure itself, not the relay, on a 2-core machine).
 */
class LoadConnection {
  readonly key: SigningKey;
  readonly #form: 'json' | 'cbor';
  readonly #ws: WebSocket;
  readonly #relayKey: Uint8Array;
  readonly #pending = new Map<string, (answer: Answer) => void>();
  onPush: (paths: readonly string[]) => void = () => {};

  private constructor(ws: WebSocket, key: SigningKey, relayKey: Uint8Array, form: 'json' | 'cbor') {
    this.#ws = ws;
    this.key = key;
    this.#relayKey = relayKey;
    this.#form = form;
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      const body = isBinary
        ? answerOf(data)
        : (JSON.parse(data.toString('utf8')) as { msg: { request: Answer } }).msg.request;
      if (body.type === 'records') return this.onPush(body.paths ?? []);
      const resolve = this.#pending.get(body.re);
      this.#pending.delete(body.re);
      resolve?.(body);
    });
  }

  static async open(address: string, key: SigningKey, form: 'json' | 'cbor'): Promise<LoadConnection> {
    const parsed = parseRelayAddress(address);
    if (!parsed.ok) throw new Error(parsed.error);
    const ws = new WebSocket(parsed.value.url);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return new LoadConnection(ws, key, parsed.value.key, form);
  }

  /** Signs and sends a request (to the relay, or a write to its receiver); resolves with the answer. */
  request(body: RelayRequest, to: Uint8Array = this.#relayKey): Promise<Answer> {
    return this.send(this.sign(body, to));
  }

  /** A signed request, encoded: made ahead of time, so the measured window spends no CPU on it. */
  sign(body: RelayRequest, to: Uint8Array = this.#relayKey): { nonce: string; frame: string | Uint8Array } {
    const message = signRelayMessage(crypto, this.key, to, Date.now(), body);
    const frame = this.#form === 'json' ? encodeJsonFrame(message) : encodeRelayMessage(message);
    return { nonce: toBase64url(message.nonce), frame };
  }

  send(signed: { nonce: string; frame: string | Uint8Array }): Promise<Answer> {
    return new Promise((resolve) => {
      this.#pending.set(signed.nonce, resolve);
      this.#ws.send(signed.frame, { binary: typeof signed.frame !== 'string' });
    });
  }

  close(): void {
    this.#ws.terminate();
  }
}

/** An answer in the binary form, as the JSON one reads (nonces as base64url). Not checked: see above. */
function answerOf(data: Buffer): Answer {
  const decoded = decodeRelayMessage(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), LIMITS);
  if (!decoded.ok) return { type: 'error', re: '', code: 'GENERATOR_UNDECODABLE' };
  const body = decoded.value.request as {
    type: Answer['type'];
    re: Uint8Array;
    code?: string;
    paths?: string[];
  };
  return {
    type: body.type,
    re: toBase64url(body.re),
    ...(body.code === undefined ? {} : { code: body.code }),
    ...(body.paths === undefined ? {} : { paths: body.paths }),
  };
}

const LIMITS = relayLimits();

interface Answer {
  readonly type: 'result' | 'error' | 'records';
  readonly re: string;
  readonly code?: string;
  readonly paths?: string[];
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/** Opens connections a few hundred at a time, so the relay's accept queue is not what is measured. */
async function openAll<T>(keys: readonly SigningKey[], open: (key: SigningKey) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < keys.length; i += 200)
    out.push(...(await Promise.all(keys.slice(i, i + 200).map(open))));
  return out;
}

interface StoreSetup {
  readonly args: string[];
  openAccounts(keys: readonly Uint8Array[], recordsMax: number): Promise<void>;
  cleanup(): Promise<void>;
}

async function setUpStore(options: RelayLoadOptions): Promise<StoreSetup> {
  if (options.storage === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'postern-relay-load-'));
    return {
      args: ['--data', dir],
      openAccounts: async (keys, recordsMax) => {
        const store = new SqliteRelayStore(join(dir, 'relay.db'));
        await Promise.all(
          keys.map((k) => store.openAccount(k, { recordsMax, bytesMax: 1 << 30 }, 'operator', Date.now())),
        );
        await store.close();
      },
      cleanup: () => Promise.resolve(rmSync(dir, { recursive: true, force: true })),
    };
  }
  const url = options.pgUrl;
  if (url === undefined) throw new Error('PostgreSQL load needs POSTERN_PG_URL');
  const schema = `postern_load_${process.pid}_${Date.now()}`;
  const store = await PgRelayStore.open(url, { schema, connectionsMax: 4 });
  return {
    args: ['--pg', url, '--pg-schema', schema],
    openAccounts: async (keys, recordsMax) => {
      for (let i = 0; i < keys.length; i += 100) {
        await Promise.all(
          keys
            .slice(i, i + 100)
            .map((k) => store.openAccount(k, { recordsMax, bytesMax: 1 << 30 }, 'operator', Date.now())),
        );
      }
    },
    cleanup: async () => {
      await store.close();
      const sql = postgres(url, { max: 1, onnotice: () => {} });
      await sql.unsafe(`DROP SCHEMA ${schema} CASCADE`);
      await sql.end({ timeout: 5 });
    },
  };
}

export async function runRelayLoad(options: RelayLoadOptions): Promise<RelayLoadFigures> {
  const setup = await setUpStore(options);
  const writerKeys = Array.from({ length: options.writers }, key);
  const readerKeys = Array.from({ length: options.readers }, key);
  await setup.openAccounts(
    writerKeys.map((k) => k.publicKey),
    1_000_000,
  );
  const relay = new RelayProcess([
    ...setup.args,
    '--port',
    '0',
    '--pulls-per-record',
    '1000',
    '--verify-threads',
    String(options.verifyThreads),
  ]);
  try {
    const { address } = await relay.started;
    const form = options.form ?? 'json';
    const readers = await openAll(readerKeys, (k) => LoadConnection.open(address, k, form));
    const writers = await openAll(writerKeys, (k) => LoadConnection.open(address, k, form));
    const latencies: number[] = [];
    const errors: Record<string, number> = {};
    let writes = 0;
    let reads = 0;
    let measuring = false;
    let running = true;
    const content = crypto.randomBytes(CONTENT_BYTES);
    const tally = (answer: Answer) => {
      if (answer.type === 'error') errors[answer.code ?? '?'] = (errors[answer.code ?? '?'] ?? 0) + 1;
      return answer.type === 'result';
    };

    for (const reader of readers) {
      reader.onPush = (paths) => {
        if (!options.pullAll) return;
        for (const path of paths) {
          void reader.request({ type: 'read', path }).then((answer) => {
            if (tally(answer) && measuring) reads++;
          });
        }
      };
      tally(await reader.request({ type: 'listen', afterTs: Date.now() }));
    }
    // Each writer's writes are signed before the clock starts (enough for 6,000 writes/s), so the
    // generator's CPU in the window goes to sockets, not signatures; past them it signs as it goes.
    const seconds = (options.warmupMs + options.measureMs) / 1000;
    const stockPerWriter = Math.ceil((6_000 * seconds) / writers.length);
    const write = (writer: LoadConnection, i: number, n: number) =>
      writer.sign(
        { type: 'write', recordId: crypto.randomBytes(16), ttl: TTL_MS, tag: 'msg', content },
        (readerKeys[(i + n) % readerKeys.length] as SigningKey).publicKey,
      );
    const stock = writers.map((writer, i) =>
      Array.from({ length: stockPerWriter }, (_, n) => write(writer, i, n)),
    );
    const loops = writers.map(async (writer, i) => {
      for (let n = 0; running && n < 10_000_000; n++) {
        const signed = stock[i]?.[n] ?? write(writer, i, n);
        const started = performance.now();
        const answer = await writer.send(signed);
        if (tally(answer) && measuring) {
          writes++;
          latencies.push(performance.now() - started);
        }
      }
    });
    await delay(options.warmupMs);
    const before = relay.usage();
    const ownBefore = process.cpuUsage();
    const t0 = performance.now();
    measuring = true;
    await delay(options.measureMs);
    measuring = false;
    const elapsed = (performance.now() - t0) / 1000;
    const after = relay.usage();
    const own = process.cpuUsage(ownBefore);
    running = false;
    await Promise.all(loops);
    for (const connection of [...writers, ...readers]) connection.close();
    latencies.sort((a, b) => a - b);
    return {
      storage: options.storage,
      form,
      verifyThreads: options.verifyThreads,
      pullAll: options.pullAll,
      connections: writers.length + readers.length,
      writesPerSec: writes / elapsed,
      readsPerSec: reads / elapsed,
      ackP50Ms: percentile(latencies, 50),
      ackP99Ms: percentile(latencies, 99),
      relayCpuPercent: ((after.cpuSeconds - before.cpuSeconds) / elapsed) * 100,
      relayRssMiB: after.rssBytes / 2 ** 20,
      generatorCpuPercent: ((own.user + own.system) / 1e6 / elapsed) * 100,
      errors,
    };
  } finally {
    await relay.stop();
    await setup.cleanup();
  }
}

export interface QuotaFigures {
  readonly quota: number;
  readonly storedBeforeFull: number;
  readonly fullAnswers: number;
  readonly writeAttempts: number;
  readonly seconds: number;
  readonly firstFullMessage: string;
}

/**
 * One account with a small quota and `writers` connections writing to it until the relay says full;
 * each writer then backs off (1 s, doubling) as a Postern client does, so "full" costs the relay a
 * handful of answers per writer, not a storm.
 */
export async function runQuotaFill(
  options: RelayLoadOptions & { quota: number; seconds: number },
): Promise<QuotaFigures> {
  const setup = await setUpStore(options);
  const sender = key();
  const receiver = key();
  await setup.openAccounts([sender.publicKey], options.quota);
  const relay = new RelayProcess([...setup.args, '--port', '0']);
  try {
    const { address } = await relay.started;
    const writers = await openAll(
      Array.from({ length: options.writers }, () => sender),
      (k) => RelayClient.connect(address, { crypto, key: k }),
    );
    let stored = 0;
    let full = 0;
    let attempts = 0;
    let firstFull = '';
    const deadline = performance.now() + options.seconds * 1000;
    await Promise.all(
      writers.map(async (writer) => {
        let backoffMs = 1000;
        while (performance.now() < deadline) {
          attempts++;
          try {
            await writer.write(receiver.publicKey, {
              recordId: crypto.randomBytes(16),
              ttl: TTL_MS,
              tag: 'msg',
              content: new Uint8Array(64),
            });
            stored++;
          } catch (error) {
            if (!(error instanceof RelayClientError) || error.failure.code !== 'RELAY_QUOTA_FULL')
              throw error;
            full++;
            firstFull ||= error.message;
            await delay(Math.min(backoffMs, Math.max(0, deadline - performance.now())));
            backoffMs *= 2;
          }
        }
      }),
    );
    for (const writer of writers) await writer.close();
    return {
      quota: options.quota,
      storedBeforeFull: stored,
      fullAnswers: full,
      writeAttempts: attempts,
      seconds: options.seconds,
      firstFullMessage: firstFull,
    };
  } finally {
    await relay.stop();
    await setup.cleanup();
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function printRelayLoad(figures: RelayLoadFigures): void {
  const f = (n: number, d = 0) =>
    n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
  console.log(
    `  ${figures.storage.padEnd(10)} ${figures.form.padEnd(4)} ${figures.verifyThreads} verify thr  ${figures.pullAll ? 'pull all' : 'listen  '}  ${f(figures.connections).padStart(6)} conns  ${f(figures.writesPerSec).padStart(7)} writes/s  ${f(figures.readsPerSec).padStart(7)} reads/s  ack p50 ${f(figures.ackP50Ms, 1)} ms  p99 ${f(figures.ackP99Ms, 1)} ms  relay CPU ${f(figures.relayCpuPercent)} %  RSS ${f(figures.relayRssMiB)} MiB  generator CPU ${f(figures.generatorCpuPercent)} %${Object.keys(figures.errors).length > 0 ? `  errors ${JSON.stringify(figures.errors)}` : ''}`,
  );
}
