import { Worker } from 'node:worker_threads';

/**
 * Ed25519 verification on worker threads, for a process whose event loop is the bottleneck (a
 * relay verifies every request). Calls made in one turn of the event loop go to a worker as one
 * batch (one message each way), so the cost per signature is the verification plus a copy.
 */
export class VerifyPool {
  readonly #workers: { worker: Worker; inFlight: number }[];
  readonly #waiting = new Map<
    number,
    { resolve: (results: Uint8Array) => void; reject: (e: Error) => void }
  >();
  #batch: {
    publicKey: Uint8Array;
    message: Uint8Array;
    signature: Uint8Array;
    resolve: (ok: boolean) => void;
  }[] = [];
  #nextId = 0;
  #scheduled = false;

  constructor(size: number) {
    this.#workers = Array.from({ length: Math.max(1, size) }, () => {
      const worker = new Worker(new URL('./verify-worker.mjs', import.meta.url));
      worker.unref();
      const entry = { worker, inFlight: 0 };
      worker.on('message', ({ id, results }: { id: number; results: Uint8Array }) => {
        entry.inFlight--;
        this.#waiting.get(id)?.resolve(results);
        this.#waiting.delete(id);
      });
      worker.on('error', (error) => {
        for (const waiter of this.#waiting.values()) waiter.reject(error);
        this.#waiting.clear();
      });
      return entry;
    });
  }

  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
    if (publicKey.length !== 32 || signature.length !== 64) return Promise.resolve(false);
    return new Promise((resolve) => {
      this.#batch.push({ publicKey, message, signature, resolve });
      if (this.#scheduled) return;
      this.#scheduled = true;
      setImmediate(() => this.#flush());
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.#workers.map(({ worker }) => worker.terminate()));
  }

  /** Packs the batch into one buffer — per item: u32 length, key, signature, message — and posts it. */
  #flush(): void {
    this.#scheduled = false;
    const batch = this.#batch;
    this.#batch = [];
    let size = 0;
    for (const item of batch) size += 4 + 32 + 64 + item.message.length;
    const packed = new Uint8Array(size);
    const view = new DataView(packed.buffer);
    let at = 0;
    for (const item of batch) {
      view.setUint32(at, item.message.length);
      packed.set(item.publicKey, at + 4);
      packed.set(item.signature, at + 36);
      packed.set(item.message, at + 100);
      at += 100 + item.message.length;
    }
    const target = this.#workers.reduce((a, b) => (b.inFlight < a.inFlight ? b : a));
    const id = this.#nextId++;
    target.inFlight++;
    this.#waiting.set(id, {
      resolve: (results) => batch.forEach((item, i) => item.resolve(results[i] === 1)),
      reject: () => batch.forEach((item) => item.resolve(false)),
    });
    target.worker.postMessage({ id, packed }, [packed.buffer]);
  }
}
