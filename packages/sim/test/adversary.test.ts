import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { bytesEqual } from '@postern/core';
import { compose, delay, drop, fixed, forgeCopies, impersonate, lie } from '../src/index.ts';
import {
  fixedLatency,
  indexOf,
  numbered,
  payload,
  probe,
  probeWorld,
  rerun,
  seedOr,
  sendAll,
  simIt,
} from './helpers.ts';

const FILE = 'adversary.test.ts';
const seed = seedOr(61);

function world3(s: number) {
  return probeWorld(s, 3, { network: fixedLatency(10) });
}

describe('adversaries', () => {
  simIt('drop: a black hole sends nothing; an inbound drop hears nothing', seed, rerun(FILE, seed), (s) => {
    const world = world3(s);
    world.setAdversary(0, drop());
    world.setAdversary(1, drop(1, 'inbound'));
    sendAll(world, 0, 2, numbered(10));
    sendAll(world, 2, 1, numbered(10));
    sendAll(world, 1, 2, numbered(10));
    world.run(100);
    assert.equal(probe(world, 1).received.length, 0);
    assert.equal(probe(world, 2).received.length, 10); // only node 1's
    assert.equal(world.stats.dropped.adversary, 20);
  });

  simIt('drop with a probability and a filter', seed, rerun(FILE, seed), (s) => {
    const world = world3(s);
    world.setAdversary(
      0,
      drop(0.5, 'outbound', (m) => indexOf(m.bytes) % 2 === 0),
    );
    sendAll(world, 0, 1, numbered(1000));
    world.run(100);
    const got = probe(world, 1).received.map((r) => indexOf(r.bytes));
    assert.equal(got.filter((i) => i % 2 === 1).length, 500); // odd ones untouched
    const evens = got.filter((i) => i % 2 === 0).length;
    assert.ok(evens > 180 && evens < 320, `${evens} of 500 even ones pass`);
  });

  simIt('delay: holds messages back, outbound and inbound', seed, rerun(FILE, seed), (s) => {
    const world = world3(s);
    world.setAdversary(0, delay(100));
    world.setAdversary(2, delay(fixed(40), 'inbound'));
    sendAll(world, 0, 1, [payload(1)]);
    sendAll(world, 1, 2, [payload(2)]);
    world.run(1000);
    assert.equal(probe(world, 1).received[0]?.now, 110);
    assert.equal(probe(world, 2).received[0]?.now, 50);
  });

  simIt('lie: rewrites what a node sends', seed, rerun(FILE, seed), (s) => {
    const world = world3(s);
    world.setAdversary(
      0,
      lie((bytes) => bytes.map((b) => b ^ 0xff)),
    );
    sendAll(world, 0, 1, [new Uint8Array([1, 2])]);
    world.run(100);
    assert.deepEqual([...(probe(world, 1).received[0]?.bytes ?? [])], [0xfe, 0xfd]);
  });

  simIt('forge: messages claim another sender', seed, rerun(FILE, seed), (s) => {
    const world = world3(s);
    world.setAdversary(0, impersonate(2));
    sendAll(world, 0, 1, [payload(1)]);
    world.run(100);
    const got = probe(world, 1).received[0];
    assert.ok(got !== undefined && bytesEqual(got.from, world.id(2)));
    world.setAdversary(
      0,
      forgeCopies(1, (m) => (m.to === 2 ? undefined : 2)),
    );
    world.inject(2, 0, payload(9), 5); // a scripted forgery, too
    sendAll(world, 0, 1, [payload(2)]);
    world.run(200);
    const atTwo = probe(world, 2).received;
    assert.equal(atTwo.length, 1);
    assert.ok(bytesEqual((atTwo[0] as { from: Uint8Array }).from, world.id(1)));
    assert.ok(bytesEqual(probe(world, 0).received[0]?.from ?? new Uint8Array(0), world.id(2)));
  });

  simIt('compose: behaviours chain in order, and a drop ends the chain', seed, rerun(FILE, seed), (s) => {
    const world = world3(s);
    let seenAfterDrop = 0;
    const count = { outbound: () => (seenAfterDrop++, true) };
    world.setAdversary(
      0,
      compose(
        lie((b) => b.map(() => 7)),
        delay(30),
      ),
    );
    world.setAdversary(1, compose(drop(), count));
    sendAll(world, 0, 2, [payload(1)]);
    sendAll(world, 1, 2, [payload(1)]);
    world.run(100);
    const got = probe(world, 2).received;
    assert.equal(got.length, 1);
    assert.equal(got[0]?.now, 40);
    assert.deepEqual([...(got[0]?.bytes ?? [])], [7, 7, 7, 7]);
    assert.equal(seenAfterDrop, 0);
    world.setAdversary(0, undefined);
    sendAll(world, 0, 2, [payload(3)]);
    world.run(200);
    assert.equal(probe(world, 2).received[1]?.now, 110);
  });
});
