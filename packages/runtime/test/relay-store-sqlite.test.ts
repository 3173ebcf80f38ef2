import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { relayStoreConformance } from '../../relay/test/store-conformance.ts';
import { SqliteRelayStore } from '../src/relay/sqlite-relay-store.ts';

relayStoreConformance('SQLite', () => {
  const dir = mkdtempSync(join(tmpdir(), 'postern-relay-sqlite-'));
  const file = join(dir, 'relay.db');
  const store = new SqliteRelayStore(file);
  const others: SqliteRelayStore[] = [];
  return Promise.resolve({
    store,
    sharedAnnouncements: false,
    reopen: () => {
      const other = new SqliteRelayStore(file);
      others.push(other);
      return Promise.resolve(other);
    },
    cleanup: async () => {
      await store.close();
      for (const other of others) await other.close();
      rmSync(dir, { recursive: true, force: true });
    },
  });
});

describe('SQLite relay store batches', () => {
  it('rejects a change that fails alone: the rest of its batch still commits', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'postern-relay-sqlite-'));
    const store = new SqliteRelayStore(join(dir, 'relay.db'));
    try {
      const alice = new Uint8Array(32).fill(1);
      await store.openAccount(alice, { recordsMax: 10, bytesMax: 10_000 }, 'operator', 1);
      const record = (id: number) => ({
        path: { sender: alice, receiver: new Uint8Array(32).fill(2), recordId: new Uint8Array(16).fill(id) },
        message: new Uint8Array([id]),
        contentBytes: 10,
        digest: new Uint8Array(32),
        expiresAt: 1_000_000,
      });
      // Queued in one turn, so committed as one batch; the middle change breaks a NOT NULL column.
      const [first, broken, last] = await Promise.allSettled([
        store.write(record(1), 10),
        store.openAccount(
          new Uint8Array(32).fill(3),
          { recordsMax: null as unknown as number, bytesMax: 1 },
          'x',
          10,
        ),
        store.write(record(2), 10),
      ]);
      assert.deepEqual(first, { status: 'fulfilled', value: { type: 'stored' } });
      assert.equal(broken?.status, 'rejected');
      assert.deepEqual(last, { status: 'fulfilled', value: { type: 'stored' } });
      assert.equal((await store.account(alice))?.records, 2);
      assert.equal(await store.account(new Uint8Array(32).fill(3)), undefined);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
