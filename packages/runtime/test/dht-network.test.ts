// Twenty Kademlia nodes in this process over real loopback TCP links, their ids meeting an 8-bit id
// puzzle: all bootstrap from one, store 100 records and find them all; five nodes are closed, and
// every record is still found. A node whose id fails the puzzle is refused at construction.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Rng, utf8 } from '@postern/core';
import { createSodiumProvider } from '@postern/crypto';
import { DEFAULT_KADEMLIA_LIMITS, keyOf, meetsIdPuzzle, signRecord } from '@postern/kademlia';
import { createNodeKeys } from '@postern/transport';
import { DhtNode, createDhtNodeKeys } from '../src/index.ts';

const crypto = createSodiumProvider();
// RPC timeouts above the default 2 s: 100 stores at once share one event loop with 19 other nodes.
const limits = { rpcTimeoutMs: 3_000, idPuzzleBits: 8 };
const HOUR = 3_600_000;

describe('a DHT of 20 nodes over loopback TCP', () => {
  const nodes: DhtNode[] = [];
  after(async () => {
    await Promise.all(nodes.map((n) => n.close()));
  });

  it('refuses to run with a node id that fails the id puzzle', () => {
    const keys = createNodeKeys(crypto, { accept: (id) => !meetsIdPuzzle(crypto, id, 8) });
    assert.throws(() => new DhtNode({ crypto, keys, limits }), { code: 'DHT_ID_PUZZLE' });
  });

  it('stores and finds 100 records, and finds them all again after 5 nodes go away', async () => {
    for (let i = 0; i < 20; i++)
      nodes.push(new DhtNode({ crypto, keys: createDhtNodeKeys(crypto, limits), limits }));
    const addresses = await Promise.all(nodes.map((n) => n.host.listenTcp(0, '127.0.0.1')));
    for (const node of nodes.slice(1)) await node.bootstrap([addresses[0] as string]);
    const rng = Rng.fromSeed('dht-network');
    const records = Array.from({ length: 100 }, (_, r) => {
      const owner = crypto.ed25519KeyPairFromSeed(rng.bytes(32));
      return signRecord(
        crypto,
        owner.secretKey,
        { salt: utf8('identity'), seq: 1, value: utf8(`record ${r}`), expiresAtMs: Date.now() + HOUR },
        DEFAULT_KADEMLIA_LIMITS,
      );
    });
    const kept = await Promise.all(records.map((r, i) => (nodes[i % 20] as DhtNode).store(r)));
    assert.ok(Math.min(...kept) >= 15, `stored on ${Math.min(...kept)} nodes at worst`);
    const findAll = (from: DhtNode[]) =>
      Promise.all(
        records.map((r, i) => (from[(i * 7) % from.length] as DhtNode).findValue(keyOf(crypto, r))),
      );
    const found = await findAll(nodes);
    assert.equal(found.filter((f) => f?.seq === 1).length, 100);
    const gone = nodes.splice(15, 5);
    await Promise.all(gone.map((n) => n.close()));
    const again = await findAll(nodes);
    assert.equal(again.filter((f) => f?.seq === 1).length, 100);
    console.log(
      `20 nodes: 100 records stored (on ${Math.min(...kept)}–${Math.max(...kept)} nodes), found; 5 closed, all 100 found again`,
    );
  });
});
