import { relayStoreConformance } from '../../relay/test/store-conformance.ts';
import { PgRelayStore } from '../src/relay/pg-relay-store.ts';
import { REAL_PG_URL, openTestDatabase } from './pg-harness.ts';

for (const kind of REAL_PG_URL === undefined ? (['pglite'] as const) : (['pglite', 'postgresql'] as const)) {
  relayStoreConformance(kind === 'pglite' ? 'PostgreSQL (PGlite)' : 'PostgreSQL (server)', async () => {
    const db = await openTestDatabase(kind);
    const options = db.schema === undefined ? {} : { schema: db.schema };
    const store = await PgRelayStore.open(db.url, options);
    const others: PgRelayStore[] = [];
    return {
      store,
      // pglite-socket answers each query on its own connection and forwards no NOTIFY to others
      // (pglite-socket 0.2.17), so only a real server can show one process hearing another's records.
      sharedAnnouncements: kind === 'postgresql',
      reopen: async () => {
        const other = await PgRelayStore.open(db.url, options);
        others.push(other);
        return other;
      },
      cleanup: async () => {
        await store.close();
        for (const other of others) await other.close();
        await db.close();
      },
    };
  });
}
