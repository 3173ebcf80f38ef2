import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import postgres from 'postgres';

/**
 * A PostgreSQL database for a test: the real server named by POSTERN_PG_URL (a fresh schema of its
 * own, dropped afterwards), or else PGlite (PostgreSQL compiled to WASM) behind pglite-socket on a
 * loopback port, so `npm test` covers PostgreSQL on any machine.
 */
export interface TestDatabase {
  readonly kind: 'postgresql' | 'pglite';
  readonly url: string;
  /** The schema to use (real server), or undefined (PGlite: a whole database of its own). */
  readonly schema: string | undefined;
  close(): Promise<void>;
}

export async function openTestDatabase(kind: 'postgresql' | 'pglite'): Promise<TestDatabase> {
  return kind === 'postgresql' ? openReal() : openPglite();
}

export const REAL_PG_URL = process.env['POSTERN_PG_URL'];

async function openReal(): Promise<TestDatabase> {
  const url = REAL_PG_URL;
  if (url === undefined) throw new Error('POSTERN_PG_URL is not set');
  const schema = `postern_test_${process.pid}_${Math.floor(performance.now() * 1000)}`;
  const admin = postgres(url, { max: 1, onnotice: () => {} });
  await admin.unsafe(`CREATE SCHEMA ${schema}`);
  return {
    kind: 'postgresql',
    url,
    schema,
    close: async () => {
      await admin.unsafe(`DROP SCHEMA ${schema} CASCADE`);
      await admin.end({ timeout: 5 });
    },
  };
}

async function openPglite(): Promise<TestDatabase> {
  const db = await PGlite.create();
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 32 });
  await server.start();
  const conn = server.getServerConn();
  return {
    kind: 'pglite',
    url: `postgres://postgres@${conn}/postgres?sslmode=disable`,
    schema: undefined,
    close: async () => {
      await server.stop();
      await db.close();
    },
  };
}
