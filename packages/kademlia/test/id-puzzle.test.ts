// S/Kademlia's static id puzzle: the check agrees with a leading-zero count made another way, and a
// machine whose network sets a puzzle refuses ids that do not meet it — as senders, as contacts in
// answers and as seeds — while it talks to those that do.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Millis, type NodeId, Rng, concatBytes, utf8 } from '@postern/core';
import { createSodiumProvider } from '@postern/crypto';
import {
  type KadMessage,
  KademliaMachine,
  decodeMessage,
  encodeMessage,
  meetsIdPuzzle,
  resolveKademliaLimits,
} from '../src/index.ts';

const rng = Rng.fromSeed('id-puzzle');
const crypto = createSodiumProvider({ random: (n) => rng.bytes(n) });
const T0 = 0 as Millis;

/** Leading zero bits of the puzzle hash, counted on its binary text. */
function zeros(id: Uint8Array): number {
  const digest = crypto.blake2b(concatBytes(utf8('postern/node-id-puzzle/v1\n'), id), 32);
  const bits = [...digest].map((b) => b.toString(2).padStart(8, '0')).join('');
  const first = bits.indexOf('1');
  return first < 0 ? 256 : first;
}

/** A random id that meets (or, with `meets` false, fails) a `bits`-bit puzzle. */
function idWith(bits: number, meets: boolean): NodeId {
  for (let i = 0; i < 1_000_000; i++) {
    const id = rng.bytes(32) as NodeId;
    if (zeros(id) >= bits === meets) return id;
  }
  throw new Error('no such id in a million draws');
}

describe('node id puzzle', () => {
  it('agrees with a leading-zero count of the puzzle hash, for every difficulty up to 12', () => {
    let passed = 0;
    for (let i = 0; i < 400; i++) {
      const id = rng.bytes(32);
      const lz = zeros(id);
      for (let bits = 0; bits <= 12; bits++) assert.equal(meetsIdPuzzle(crypto, id, bits), lz >= bits);
      if (meetsIdPuzzle(crypto, id, 4)) passed++;
    }
    assert.ok(passed > 10 && passed < 50, `${passed} of 400 random ids meet 4 bits (expected ~25)`);
  });

  it('refuses limits above the maximum', () => {
    assert.throws(() => resolveKademliaLimits({ idPuzzleBits: 25 }), { code: 'KAD_BAD_LIMIT' });
    assert.equal(resolveKademliaLimits({ idPuzzleBits: 0 }).idPuzzleBits, 0);
  });

  it('makes a machine ignore senders, answer contacts and seeds that fail it', () => {
    const limits = { idPuzzleBits: 6 };
    const m = new KademliaMachine({
      self: idWith(6, true),
      crypto,
      rng: rng.fork('m'),
      wallClockOffsetMs: 0,
      limits,
      now: T0,
    });
    const sent = (): { to: Uint8Array; message: KadMessage }[] => {
      const out = [];
      for (let i = 0; i < 1000; i++) {
        const o = m.pollOutput();
        if (o.type === 'timeout') break;
        if (o.type === 'transmit')
          out.push({ to: o.to, message: (decodeMessage(o.bytes, m.limits) as { value: KadMessage }).value });
      }
      return out;
    };
    const contact = (id: NodeId) => ({ id, addresses: ['tcp://127.0.0.1:7000'] });
    const bad = idWith(6, false);
    const good = idWith(6, true);
    m.handleReceive(bad, encodeMessage({ t: 'ping', rid: 1 }), T0);
    assert.deepEqual(sent(), [], 'no answer to an id that fails the puzzle');
    m.peerConnected(contact(bad), T0);
    assert.equal(m.table.size, 0);
    m.handleReceive(good, encodeMessage({ t: 'ping', rid: 2 }), T0);
    m.peerConnected(contact(good), T0);
    assert.deepEqual(
      sent().map((s) => s.message.t),
      ['pong'],
    );
    assert.equal(m.table.size, 1);

    m.bootstrap([contact(bad), contact(good)], T0);
    const asked = sent();
    assert.deepEqual(
      asked.map((s) => s.to),
      [good],
      'only the seed that meets it is asked',
    );
    const rid = (asked[0] as { message: { rid: number } }).message.rid;
    const fakes = [idWith(6, false), idWith(6, false), idWith(6, true)];
    m.handleReceive(good, encodeMessage({ t: 'nodes', rid, nodes: fakes.map(contact) }), T0);
    const next = sent();
    assert.deepEqual(
      next.map((s) => s.to),
      [fakes[2]],
      'only the named contact that meets it is asked',
    );
  });
});
