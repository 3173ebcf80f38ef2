import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng } from '@postern/core';
import { EventQueue } from '../src/index.ts';

describe('EventQueue', () => {
  it('pops events in (time, sequence) order, ties in the order they were scheduled', () => {
    const rng = Rng.fromSeed(1);
    const queue = new EventQueue(100_000);
    const pushed: { time: number; order: number }[] = [];
    for (let order = 0; order < 20_000; order++) {
      const time = rng.int(500); // many ties
      pushed.push({ time, order });
      queue.push(time, 1, order, 0, 0, undefined);
    }
    const expected = [...pushed].sort((a, b) => a.time - b.time || a.order - b.order).map((e) => e.order);
    const popped: number[] = [];
    while (queue.size > 0) popped.push(queue.nodeOf(queue.pop()));
    assert.deepEqual(popped, expected);
  });

  it('moves and cancels pending events in place', () => {
    const queue = new EventQueue(16);
    const a = queue.push(10, 1, 0, 0, 0, 'a');
    const b = queue.push(20, 1, 1, 0, 0, 'b');
    queue.push(30, 1, 2, 0, 0, 'c');
    queue.reschedule(b, 5);
    assert.equal(queue.timeOf(b), 5);
    queue.cancel(a);
    assert.equal(queue.size, 2);
    const order: unknown[] = [];
    while (queue.size > 0) order.push(queue.takeRef(queue.pop()));
    assert.deepEqual(order, ['b', 'c']);
  });

  it('grows up to its limit and then refuses with SIM_QUEUE_FULL', () => {
    const queue = new EventQueue(3000);
    for (let i = 0; i < 3000; i++) queue.push(i, 1, i, 0, 0, undefined);
    assert.throws(() => queue.push(0, 1, 0, 0, 0, undefined), { code: 'SIM_QUEUE_FULL' });
    assert.equal(queue.size, 3000);
    queue.pop();
    queue.push(0, 1, 0, 0, 0, undefined); // a popped slot is reused
    assert.equal(queue.peekTime(), 0);
  });
});
