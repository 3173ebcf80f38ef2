// Two links wired back to back in memory, for tests: bytes one pulls are what the other receives.
import assert from 'node:assert/strict';
import { type Millis, Rng, concatBytes } from '@postern/core';
import { type CryptoProvider, createSodiumProvider } from '@postern/crypto';
import {
  Link,
  type LinkEvent,
  type LinkOptions,
  type NodeKeys,
  createNodeKeys,
  signAnnouncement,
} from '../src/index.ts';

export const crypto: CryptoProvider = createSodiumProvider({ random: seededRandom('transport-tests') });

export function seededRandom(seed: string): (n: number) => Uint8Array {
  const rng = Rng.fromSeed(seed);
  return (n) => rng.bytes(n);
}

export function node(name: string): { keys: NodeKeys; announcement: ReturnType<typeof signAnnouncement> } {
  const keys = createNodeKeys(crypto);
  const announcement = signAnnouncement(crypto, keys, {
    capabilities: ['test'],
    addresses: [`tcp://127.0.0.1:${name.length + 7000}`],
    timestampMs: 1_790_000_000_000,
  });
  return { keys, announcement };
}

export type PairOptions = {
  initiator?: Partial<LinkOptions>;
  responder?: Partial<LinkOptions>;
  /** Sees every chunk on its way: return what to deliver. */
  tamper?: (from: 'a' | 'b', bytes: Uint8Array) => Uint8Array;
};

export class LinkPair {
  now = 0 as Millis;
  readonly a: Link;
  readonly b: Link;
  readonly eventsA: LinkEvent[] = [];
  readonly eventsB: LinkEvent[] = [];
  readonly #tamper: PairOptions['tamper'];

  constructor(options: PairOptions = {}) {
    const alice = node('alice');
    const bob = node('bob');
    this.a = new Link({ crypto, ...alice, role: 'initiator', now: this.now, ...options.initiator });
    this.b = new Link({ crypto, ...bob, role: 'responder', now: this.now, ...options.responder });
    this.#tamper = options.tamper;
  }

  /** Moves bytes both ways until nothing moves (bounded), collecting events. */
  pump(maxChunk = 64 * 1024, rounds = 10_000): void {
    for (let i = 0; i < rounds; i++) {
      const fromA = joined(this.a.pull(maxChunk, this.now));
      if (fromA) this.b.receive(this.#tamper ? this.#tamper('a', fromA) : fromA, this.now);
      const fromB = joined(this.b.pull(maxChunk, this.now));
      if (fromB) this.a.receive(this.#tamper ? this.#tamper('b', fromB) : fromB, this.now);
      this.drain();
      if (!fromA && !fromB) return;
    }
    assert.fail(`the pair still moves bytes after ${rounds} rounds`);
  }

  drain(): void {
    collect(this.a, this.eventsA);
    collect(this.b, this.eventsB);
  }

  advance(ms: number): void {
    this.now = (this.now + ms) as Millis;
    this.a.handleTimeout(this.now);
    this.b.handleTimeout(this.now);
    this.drain();
  }

  messages(side: 'a' | 'b'): { protocol: number; text: string }[] {
    const events = side === 'a' ? this.eventsA : this.eventsB;
    return events.flatMap((e) =>
      e.type === 'message' ? [{ protocol: e.protocol, text: new TextDecoder().decode(e.bytes) }] : [],
    );
  }

  closed(side: 'a' | 'b'): Extract<LinkEvent, { type: 'closed' }> | undefined {
    const events = side === 'a' ? this.eventsA : this.eventsB;
    return events.find((e): e is Extract<LinkEvent, { type: 'closed' }> => e.type === 'closed');
  }
}

/** What one pull gave, as one byte string (undefined when nothing). */
export function joined(chunks: Uint8Array[]): Uint8Array | undefined {
  return chunks.length === 0 ? undefined : concatBytes(...chunks);
}

function collect(link: Link, into: LinkEvent[]): void {
  for (let i = 0; i < 100_000; i++) {
    const output = link.pollOutput();
    if (output.type === 'timeout') return;
    if (output.type === 'event') into.push(output.event);
  }
}
