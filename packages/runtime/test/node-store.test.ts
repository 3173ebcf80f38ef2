// The node's SQLite database: rows written in one transaction come back after reopening; a file
// from a newer Postern is refused with a clear error; the file is readable by its owner only.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { NodeStore, NodeStoreError } from '../src/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'postern-store-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('NodeStore', () => {
  it('keeps what a drain wrote, and forgets what it deleted, across reopening', () => {
    const path = join(dir, 'a.db');
    const store = new NodeStore(path);
    store.apply([
      { table: 'outbox', key: 'k1', value: new Uint8Array([1, 2, 3]) },
      { table: 'held', key: 'h1', value: new Uint8Array([4]) },
      { table: 'held', key: 'h2', value: new Uint8Array([5]) },
    ]);
    store.apply([
      { table: 'held', key: 'h1', value: undefined },
      { table: 'outbox', key: 'k1', value: new Uint8Array([9]) },
    ]);
    store.setSecret('node-static', new Uint8Array(32).fill(7));
    store.close();
    const reopened = new NodeStore(path);
    assert.deepEqual(
      reopened.rows().map((r) => [r.table, r.key, [...r.value]]),
      [
        ['held', 'h2', [5]],
        ['outbox', 'k1', [9]],
      ],
    );
    assert.deepEqual(reopened.secret('node-static'), new Uint8Array(32).fill(7));
    assert.equal(statSync(path).mode & 0o777, 0o600);
    reopened.close();
  });

  it('refuses a database written by a newer Postern, saying what to do', () => {
    const path = join(dir, 'newer.db');
    const db = new Database(path);
    db.pragma('user_version = 99');
    db.close();
    assert.throws(
      () => new NodeStore(path),
      (e: unknown) =>
        e instanceof NodeStoreError && e.code === 'NODE_STORE_NEWER' && /upgrade Postern/.test(e.message),
    );
  });
});
