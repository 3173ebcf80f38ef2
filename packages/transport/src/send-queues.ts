/**
 * Per-protocol send queues of a link. Each protocol has its own byte budget, so one protocol that
 * floods cannot hold back another (`push` refuses past the budget: backpressure, told to the caller),
 * and fragments are taken round-robin across protocols, so a 1 MiB message on one protocol does not
 * delay a small one on another by more than a fragment per protocol.
 */
interface Queue {
  readonly messages: Uint8Array[];
  head: number;
  offset: number;
  bytes: number;
  refused: boolean;
}

export interface Fragment {
  readonly protocol: number;
  readonly bytes: Uint8Array;
  readonly final: boolean;
  /** Protocols whose queue fell to half its budget after refusing a message: they may send again. */
  readonly drained: number[];
}

export class SendQueues {
  readonly #budget: number;
  readonly #queues = new Map<number, Queue>();
  readonly #ready: number[] = []; // protocols with something queued, in round-robin order
  #total = 0;

  constructor(budgetBytesPerProtocol: number) {
    this.#budget = budgetBytesPerProtocol;
  }

  get totalBytes(): number {
    return this.#total;
  }

  push(protocol: number, message: Uint8Array): boolean {
    let queue = this.#queues.get(protocol);
    if (queue === undefined) {
      queue = { messages: [], head: 0, offset: 0, bytes: 0, refused: false };
      this.#queues.set(protocol, queue);
    }
    if (queue.bytes + message.length > this.#budget && queue.bytes > 0) {
      queue.refused = true;
      return false;
    }
    if (queue.head === queue.messages.length) this.#ready.push(protocol);
    queue.messages.push(message);
    queue.bytes += message.length;
    this.#total += message.length;
    return true;
  }

  nextFragment(maxBytes: number): Fragment | undefined {
    const protocol = this.#ready.shift();
    if (protocol === undefined) return undefined;
    const queue = this.#queues.get(protocol) as Queue;
    const message = queue.messages[queue.head] as Uint8Array;
    const end = Math.min(queue.offset + maxBytes, message.length);
    const bytes = message.subarray(queue.offset, end);
    const final = end === message.length;
    const drained: number[] = [];
    queue.offset = end;
    if (final) {
      queue.messages[queue.head] = EMPTY; // release the message for the garbage collector
      queue.head++;
      queue.offset = 0;
      queue.bytes -= message.length;
      this.#total -= message.length;
      if (queue.refused && queue.bytes <= this.#budget / 2) {
        queue.refused = false;
        drained.push(protocol);
      }
    }
    if (queue.head === queue.messages.length) {
      this.#queues.delete(protocol);
    } else {
      // A queue that never empties would keep growing with released slots: drop them now and then.
      if (queue.head >= 1024 && queue.head * 2 >= queue.messages.length) {
        queue.messages.splice(0, queue.head);
        queue.head = 0;
      }
      this.#ready.push(protocol);
    }
    return { protocol, bytes, final, drained };
  }

  clear(): void {
    this.#queues.clear();
    this.#ready.length = 0;
    this.#total = 0;
  }
}

const EMPTY = new Uint8Array(0);
