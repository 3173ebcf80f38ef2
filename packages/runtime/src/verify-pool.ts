import { Worker } from 'node:worker_threads';

/**
 * Ed25519 verification on worker threads, for a process whose event loop is the bottleneck (a
 * relay verifies every request). Calls made in one turn of the event loop go to a worker as one
 * batch (one message each way), so the cost per signature is the verification plus a copy.
 */
interface PoolWorker {
  readonly worker: Worker;
  /** Batches sent to it and not yet answered. */
  readonly batches: Set<number>;
  /** Whether it ever answered a batch. */
  answered: boolean;
}

/**
 * Items per message to a worker: small enough that the worker starts on the first while the event
 * loop still gathers the rest, and answers come back as a stream, not one lump.
 */
const BATCH_MAX = 64;

export class VerifyPool {
  readonly #workers: PoolWorker[] = [];
  readonly #waiting = new Map<
    number,
    { resolve: (results: Uint8Array) => void; reject: (e: Error) => void }
  >();
  #batch: {
    publicKey: Uint8Array;
    message: Uint8Array;
    signature: Uint8Array;
    resolve: (ok: boolean) => void;
    reject: (e: Error) => void;
  }[] = [];
  /** Messages to sign, per secret key (the object: a relay signs with one). */
  #signing = new Map<
    Uint8Array,
    { message: Uint8Array; resolve: (sig: Uint8Array) => void; reject: (e: Error) => void }[]
  >();
  #nextId = 0;
  #scheduled = false;
  #closed = false;
  /** Workers that died in a row without ever answering. */
  #deaths = 0;

  readonly #script: URL;

  /** `script` is the worker's code: verify-worker.mjs unless a test gives another. */
  constructor(size: number, script: URL = new URL('./verify-worker.mjs', import.meta.url)) {
    this.#script = script;
    for (let i = 0; i < Math.max(1, size); i++) this.#workers.push(this.#spawn());
  }

  /** Resolves to the verdict; rejects only if the worker verifying it died (the caller cannot tell). */
  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
    if (publicKey.length !== 32 || signature.length !== 64) return Promise.resolve(false);
    if (this.#workers.length === 0)
      return Promise.reject(new Error('no verification worker could be started'));
    return new Promise((resolve, reject) => {
      this.#batch.push({ publicKey, message, signature, resolve, reject });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => this.#flush());
  }

  /**
   * Signs on a worker (batched like verification); `secretKey` is 64 bytes (seed ‖ public key).
   * Rejects only if the worker signing it died.
   */
  sign(secretKey: Uint8Array, message: Uint8Array): Promise<Uint8Array> {
    if (this.#workers.length === 0)
      return Promise.reject(new Error('no verification worker could be started'));
    return new Promise((resolve, reject) => {
      const items = this.#signing.get(secretKey) ?? [];
      items.push({ message, resolve, reject });
      this.#signing.set(secretKey, items);
      this.#schedule();
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all(this.#workers.map(({ worker }) => worker.terminate()));
  }

  #spawn(): PoolWorker {
    const worker = new Worker(this.#script);
    worker.unref();
    const entry: PoolWorker = { worker, batches: new Set(), answered: false };
    worker.on('message', ({ id, results }: { id: number; results: Uint8Array }) => {
      entry.answered = true;
      entry.batches.delete(id);
      this.#waiting.get(id)?.resolve(results);
      this.#waiting.delete(id);
    });
    // A dead worker fails its own batches (never others') and is replaced.
    const died = (error: Error) => {
      for (const id of entry.batches) {
        this.#waiting.get(id)?.reject(error);
        this.#waiting.delete(id);
      }
      entry.batches.clear();
      const index = this.#workers.indexOf(entry);
      if (index < 0 || this.#closed) return;
      // A script that cannot start would die again at once: after a few deaths in a row the slot
      // stays dead (its batches fail fast) rather than respawning in a tight loop.
      this.#deaths = entry.answered ? 0 : this.#deaths + 1;
      if (this.#deaths < 5) this.#workers[index] = this.#spawn();
      else this.#workers.splice(index, 1);
    };
    worker.on('error', died);
    worker.on('exit', (code) => died(new Error(`a verification worker exited with code ${code}`)));
    return entry;
  }

  /** Packs the batch into one buffer — per item: u32 length, key, signature, message — and posts it. */
  #flush(): void {
    this.#scheduled = false;
    const all = this.#batch;
    this.#batch = [];
    for (let from = 0; from < all.length; from += BATCH_MAX) {
      const batch = all.slice(from, from + BATCH_MAX);
      this.#post(
        { op: 'verify' },
        pack(batch, 100, (item, packed, at) => {
          packed.set(item.publicKey, at + 4);
          packed.set(item.signature, at + 36);
          packed.set(item.message, at + 100);
        }),
        {
          resolve: (results) => batch.forEach((item, i) => item.resolve(results[i] === 1)),
          reject: (error) => batch.forEach((item) => item.reject(error)),
        },
      );
    }
    const signing = this.#signing;
    this.#signing = new Map();
    for (const [secretKey, all] of signing)
      for (let from = 0; from < all.length; from += BATCH_MAX) {
        const items = all.slice(from, from + BATCH_MAX);
        this.#post(
          { op: 'sign', secretKey },
          pack(items, 4, (item, packed, at) => packed.set(item.message, at + 4)),
          {
            resolve: (results) =>
              items.forEach((item, i) => item.resolve(results.slice(64 * i, 64 * i + 64))),
            reject: (error) => items.forEach((item) => item.reject(error)),
          },
        );
      }
  }

  /** Sends one packed batch to the least busy worker. */
  #post(
    head: { op: 'verify' } | { op: 'sign'; secretKey: Uint8Array },
    packed: Uint8Array,
    settle: { resolve: (results: Uint8Array) => void; reject: (e: Error) => void },
  ): void {
    if (this.#workers.length === 0)
      return settle.reject(new Error('no verification worker could be started'));
    const target = this.#workers.reduce((a, b) => (b.batches.size < a.batches.size ? b : a));
    const id = this.#nextId++;
    target.batches.add(id);
    this.#waiting.set(id, settle);
    target.worker.postMessage({ id, ...head, packed }, [packed.buffer as ArrayBuffer]);
  }
}

/** Items packed one after another: a u32 message length, then what `write` puts from `at + 4`. */
function pack<T extends { message: Uint8Array }>(
  items: readonly T[],
  header: number,
  write: (item: T, packed: Uint8Array, at: number) => void,
): Uint8Array {
  let size = 0;
  for (const item of items) size += header + item.message.length;
  const packed = new Uint8Array(size);
  const view = new DataView(packed.buffer);
  let at = 0;
  for (const item of items) {
    view.setUint32(at, item.message.length);
    write(item, packed, at);
    at += header + item.message.length;
  }
  return packed;
}
