import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BoundedFifo, BoundedLru } from '../src/index.ts';

describe('BoundedLru', () => {
  it('evicts the least-recently-used entry when full and returns it', () => {
    const lru = new BoundedLru<string, number>(2);
    assert.equal(lru.set('a', 1), undefined);
    assert.equal(lru.set('b', 2), undefined);
    assert.equal(lru.get('a'), 1); // a is now the most recent
    assert.deepEqual(lru.set('c', 3), ['b', 2]);
    assert.deepEqual(
      [...lru.entries()],
      [
        ['a', 1],
        ['c', 3],
      ],
    );
    assert.equal(lru.size, 2);
  });

  it('peeks without changing the order and replaces without growing', () => {
    const lru = new BoundedLru<string, number>(2);
    lru.set('a', 1);
    lru.set('b', 2);
    assert.equal(lru.peek('a'), 1);
    assert.equal(lru.set('b', 20), undefined);
    assert.deepEqual(lru.set('c', 3), ['a', 1]);
    assert.equal(lru.delete('b'), true);
    assert.equal(lru.has('b'), false);
  });

  it('never holds more than its bound under any sequence of inserts', () => {
    const lru = new BoundedLru<number, number>(16);
    for (let i = 0; i < 10_000; i++) lru.set(i % 97, i);
    assert.equal(lru.size, 16);
  });

  it('refuses a capacity below one', () => {
    assert.throws(() => new BoundedLru(0), { code: 'COLLECTION_BAD_CAPACITY' });
  });
});

describe('BoundedFifo', () => {
  it('keeps first-in first-out order across wrap-around', () => {
    const fifo = new BoundedFifo<number>(3);
    for (let round = 0; round < 5; round++) {
      fifo.push(round * 2);
      fifo.push(round * 2 + 1);
      assert.equal(fifo.shift(), round * 2);
      assert.equal(fifo.shift(), round * 2 + 1);
    }
    assert.equal(fifo.shift(), undefined);
  });

  it('drops the oldest item when full and reports it', () => {
    const fifo = new BoundedFifo<string>(2);
    fifo.push('a');
    fifo.push('b');
    assert.deepEqual(fifo.push('c'), { accepted: true, dropped: 'a' });
    assert.deepEqual([...fifo], ['b', 'c']);
    assert.equal(fifo.peek(), 'b');
  });

  it('refuses new items when full in reject mode', () => {
    const fifo = new BoundedFifo<string>(1, 'reject');
    assert.deepEqual(fifo.push('a'), { accepted: true });
    assert.deepEqual(fifo.push('b'), { accepted: false });
    assert.deepEqual([...fifo], ['a']);
    assert.equal(fifo.size, 1);
  });
});
