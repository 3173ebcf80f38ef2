// PosternNode in the simulator: the directory (identity and tickets records) and the saved routing
// table, through the same machine the runtime runs.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toHex } from '@postern/core';
import { simContact } from '@postern/kademlia';
import { World } from '@postern/sim';
import { type NodeEvent, type PosternNode, posternProgram, simSeeds } from '../src/index.ts';

const NODES = 30;

function world(seed: number) {
  const w = new World({ seed, nodes: NODES, program: posternProgram() });
  const events: { node: number; event: NodeEvent }[] = [];
  w.observe({ event: (node, event) => void events.push({ node, event }) });
  w.start();
  for (let i = 0; i < NODES; i++) {
    w.at(i * 20, () => w.act(i, (m, now) => m.start(simSeeds(i, w.id(0)), now)));
  }
  w.run(60_000);
  return { w, events };
}

function befriend(w: World<NodeEvent, PosternNode>, a: number, b: number): void {
  for (const [x, y] of [
    [a, b],
    [b, a],
  ] as const) {
    const document = w.machine(y)?.identity.document;
    assert.ok(document);
    w.act(
      x,
      (m, now) =>
        void m.messaging.addContact(document, now, {
          reach: { node: w.id(y), addrs: simContact(w.id(y)).addresses },
        }),
    );
  }
}

describe('PosternNode', () => {
  it('publishes its identity and tickets records, which anyone finds by messaging id', () => {
    const { w, events } = world(1);
    const published = events.filter((e) => e.event.type === 'published');
    assert.equal(published.length, 2 * NODES, 'every node published both records');
    // Node 5 nominates 6; 6 accepts; node 20 (a stranger to both) looks 5 up.
    befriend(w, 5, 6);
    const six = w.machine(6)?.identity.messagingId;
    assert.ok(six);
    w.act(5, (m, now) => m.messaging.nominate(six, now));
    w.run(w.now + 5_000);
    const five = w.machine(5)?.identity.messagingId;
    assert.ok(five);
    w.act(6, (m, now) => m.messaging.answerNomination(five, true, now));
    w.run(w.now + 30_000);
    w.act(20, (m, now) => void m.lookup(five, now));
    w.run(w.now + 30_000);
    const found = events.find((e) => e.node === 20 && e.event.type === 'directory-found');
    assert.ok(found && found.event.type === 'directory-found');
    assert.equal(found.event.document?.seq, 1);
    assert.deepEqual(found.event.document?.replicants.map(toHex), [toHex(six)]);
    assert.equal(found.event.tickets.length, 1, 'the replicant’s ticket is in the directory');
    // Node 21 adds node 5 as a contact by messaging id alone.
    w.act(21, (m, now) => void m.addContactById(five, now));
    w.run(w.now + 30_000);
    const added = w.machine(21)?.messaging.contact(five);
    assert.equal(added?.document.seq, 1);
    assert.equal(added?.tickets.length, 1, 'with its replicant’s ticket, ready to send through it');
  });

  it('rejoins from its saved routing table when its bootstrap node is down', () => {
    const { w, events } = world(2);
    w.run(w.now + 11 * 60_000); // the routing table snapshot is taken every 10 min
    w.crash(0);
    w.crash(7);
    const before = events.length;
    w.restart(7);
    w.run(w.now + 60_000);
    const table = w.machine(7)?.kad.table.size ?? 0;
    assert.ok(table > 10, `node 7 knows ${table} nodes after rejoining without node 0`);
    assert.ok(events.slice(before).some((e) => e.node === 7 && e.event.type === 'online'));
  });
});
