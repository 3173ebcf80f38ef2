import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { advertisable } from '../src/node-runtime.ts';

// What a node tells contacts for the addresses it listens on (nothing here opens a socket).
describe('advertised addresses', () => {
  it('passes a concrete address through as it is', () => {
    assert.deepEqual(advertisable(['tcp://127.0.0.1:7400', 'ws://[::1]:7401']), [
      'tcp://127.0.0.1:7400',
      'ws://[::1]:7401',
    ]);
  });

  it('never gives contacts a wildcard, at most 4 addresses, and a share of them to each scheme', () => {
    const given = advertisable(['tcp://0.0.0.0:7400', 'ws://0.0.0.0:7401']);
    assert.ok(given.length <= 4);
    assert.ok(given.every((address) => !address.includes('0.0.0.0')));
    assert.ok(given.filter((a) => a.startsWith('tcp:')).length <= 2);
    assert.ok(given.filter((a) => a.startsWith('ws:')).length <= 2);
    // Each interface address keeps the port it was listened on.
    assert.ok(given.every((a) => (a.startsWith('tcp:') ? a.endsWith(':7400') : a.endsWith(':7401'))));
  });
});
