import { chmodSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { NODE_TABLES, type NodeRow, type NodeTable } from '@postern/node';

/**
 * A node's durable state in one SQLite file (WAL): one table per kind of row the node machine
 * persists (contacts, outbox, inbox, held envelopes, ...), each `key TEXT PRIMARY KEY, value BLOB`,
 * and the node's transport secrets. A drain's writes are committed in one transaction before any
 * message that depends on them leaves (synchronous = FULL: a committed write survives power loss,
 * and kill -9 in any case).
 */

/** Bump when a table's layout changes; an older file is migrated, a newer one refused. */
const SCHEMA_VERSION = 1;

export interface NodeWrite {
  readonly table: NodeTable;
  readonly key: string;
  readonly value: Uint8Array | undefined;
}

export class NodeStoreError extends Error {
  override name = 'NodeStoreError';
  readonly code:
    'NODE_STORE_NEWER' | 'NODE_STORE_UNREADABLE' | 'NODE_STORE_WRITE_FAILED' | 'NODE_STORE_IN_USE';
  constructor(code: NodeStoreError['code'], message: string, cause?: unknown) {
    super(message, { cause });
    this.code = code;
  }
}

export class NodeStore {
  readonly path: string;
  readonly #db: Database.Database;
  readonly #put: Map<NodeTable, Database.Statement>;
  readonly #delete: Map<NodeTable, Database.Statement>;
  readonly #apply: (writes: readonly NodeWrite[]) => void;

  /**
   * `exclusive`: hold the file locked while open, so a second node on the same data directory fails
   * at once (`NODE_STORE_IN_USE`) instead of both writing; the OS drops the lock if the process dies.
   */
  constructor(path: string, options: { exclusive?: boolean } = {}) {
    this.path = path;
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    try {
      this.#db = new Database(path, options.exclusive ? { timeout: 0 } : {});
      chmodSync(path, 0o600); // it holds the node's secret keys
      if (options.exclusive) {
        this.#db.pragma('locking_mode = EXCLUSIVE');
        this.#db.exec('BEGIN IMMEDIATE; COMMIT'); // takes the lock now, not at the first write
      }
      this.#db.pragma('journal_mode = WAL');
      this.#db.pragma('synchronous = FULL');
      this.#migrate();
    } catch (cause) {
      if (cause instanceof NodeStoreError) throw cause;
      if ((cause as { code?: string }).code === 'SQLITE_BUSY')
        throw new NodeStoreError(
          'NODE_STORE_IN_USE',
          `a node is already running on ${dirname(path)} — stop it first, or give this one its own --data directory`,
          cause,
        );
      throw new NodeStoreError(
        'NODE_STORE_UNREADABLE',
        `cannot open the node database ${path}: ${(cause as Error).message}`,
        cause,
      );
    }
    this.#put = new Map(
      NODE_TABLES.map((t) => [t, this.#db.prepare(`INSERT OR REPLACE INTO ${t} (key, value) VALUES (?, ?)`)]),
    );
    this.#delete = new Map(NODE_TABLES.map((t) => [t, this.#db.prepare(`DELETE FROM ${t} WHERE key = ?`)]));
    this.#apply = this.#db.transaction((writes: readonly NodeWrite[]) => {
      for (const w of writes) {
        if (w.value === undefined) this.#delete.get(w.table)?.run(w.key);
        else this.#put.get(w.table)?.run(w.key, w.value);
      }
    });
  }

  /** Every row, table by table, as the node machine restores them. */
  rows(): NodeRow[] {
    const rows: NodeRow[] = [];
    for (const table of NODE_TABLES) {
      for (const row of this.#db.prepare(`SELECT key, value FROM ${table}`).all() as {
        key: string;
        value: Buffer;
      }[]) {
        rows.push({ table, key: row.key, value: new Uint8Array(row.value) });
      }
    }
    return rows;
  }

  /** Writes all of a drain's changes at once: all or nothing. */
  apply(writes: readonly NodeWrite[]): void {
    if (writes.length > 0) this.#apply(writes);
  }

  count(table: NodeTable): number {
    return (this.#db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
  }

  secret(name: string): Uint8Array | undefined {
    const row = this.#db.prepare('SELECT value FROM secrets WHERE name = ?').get(name) as
      { value: Buffer } | undefined;
    return row === undefined ? undefined : new Uint8Array(row.value);
  }

  setSecret(name: string, value: Uint8Array): void {
    this.#db.prepare('INSERT OR REPLACE INTO secrets (name, value) VALUES (?, ?)').run(name, value);
  }

  close(): void {
    this.#db.close();
  }

  #migrate(): void {
    const version = this.#db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      throw new NodeStoreError(
        'NODE_STORE_NEWER',
        `the node database ${this.path} was written by a newer Postern (schema ${version}); upgrade Postern to open it`,
      );
    }
    this.#db.transaction(() => {
      for (const table of NODE_TABLES) {
        this.#db.exec(
          `CREATE TABLE IF NOT EXISTS ${table} (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID`,
        );
      }
      this.#db.exec(
        'CREATE TABLE IF NOT EXISTS secrets (name TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID',
      );
      this.#db.pragma(`user_version = ${SCHEMA_VERSION}`);
    })();
  }
}
