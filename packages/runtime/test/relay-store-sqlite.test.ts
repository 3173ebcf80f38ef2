import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
