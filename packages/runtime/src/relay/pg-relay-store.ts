import { createHash } from 'node:crypto';
import postgres from 'postgres';
import { BoundedLru } from '@postern/core';
import {
  type Account,
  type DeleteOutcome,
  type ExpireCounts,
  type NewRecord,
  type Page,
  type Quota,
  type ReadOutcome,
  type RecordPath,
  type RelayStore,
  type StoredKey,
  type UsageEntry,
  type WriteOutcome,
  formatPath,
  listPage,
  parsePath,
} from '@postern/relay';
import {
  RELAY_SCHEMA_VERSION,
  RelayStoreError,
  type Row,
  bytes,
  toAccount,
  toListed,
  toUsage,
} from './relay-store-common.ts';

/**
 * A relay's records in PostgreSQL, shared by any number of relay processes. Each change is one
 * statement calling a PL/pgSQL function, so it is atomic without a client-side transaction. A new
 * record is announced at once to this process's subscribers and with NOTIFY on CHANNEL to every
 * other process (each LISTENs), so a `listen` on any process hears records written through any other.
 */
export const CHANNEL = 'postern_relay';

/**
 * The NOTIFY channel of one schema: relays in different schemas of a database do not hear each
 * other. Hashed, since a channel name has at most 63 bytes and a schema name may be that long.
 */
function channelFor(schema: string): string {
  return `${CHANNEL}_${createHash('sha256').update(schema).digest('hex').slice(0, 24)}`;
}

/** Deadlocks and serialization failures: the transaction was rolled back whole and may run again. */
const RETRYABLE = new Set(['40P01', '40001']);

async function retrying<T>(run: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (attempt >= 5 || code === undefined || !RETRYABLE.has(code)) throw error;
    }
  }
}
/** Any fixed number: the advisory lock that serializes schema setup among processes starting together. */
const MIGRATION_LOCK = 0x706f7374;

export interface PgRelayStoreOptions {
  /** Connections in the pool. */
  readonly connectionsMax?: number;
  /** A schema other than the default (public) for the relay's tables: several relays, one database. */
  readonly schema?: string;
}

export class PgRelayStore implements RelayStore {
  readonly #sql: postgres.Sql;
  readonly #listeners = new Set<(paths: readonly RecordPath[]) => void>();
  /**
   * Paths this process announced itself, until their NOTIFY echoes back. Bounded: past it, a
   * listener may hear a path twice, which listeners tolerate (a connection pushes a path once).
   */
  #channel = CHANNEL;
  readonly #announcedHere = new BoundedLru<string, true>(65_536);

  private constructor(sql: postgres.Sql) {
    this.#sql = sql;
  }

  /** Connects, creates or checks the schema, and starts listening for other processes' records. */
  static async open(url: string, options: PgRelayStoreOptions = {}): Promise<PgRelayStore> {
    const sql = postgres(url, {
      max: options.connectionsMax ?? 10,
      onnotice: () => {},
      ...(options.schema === undefined ? {} : { connection: { search_path: options.schema } }),
      // Times and counters are int8; every value Postern stores is a safe integer.
      types: {
        int8: { to: 20, from: [20], serialize: (x: number) => String(x), parse: (x: string) => Number(x) },
      },
    });
    try {
      await migrate(sql, options.schema);
    } catch (cause) {
      await sql.end({ timeout: 1 });
      if (cause instanceof RelayStoreError) throw cause;
      throw new RelayStoreError(
        'RELAY_STORE_UNREADABLE',
        `cannot open the relay database at ${redact(url)}: ${(cause as Error).message}`,
        cause,
      );
    }
    const store = new PgRelayStore(sql);
    // One channel per schema: relays sharing a database in different schemas do not hear each other.
    const [row] = await sql<Row[]>`SELECT current_schema() AS schema`;
    store.#channel = channelFor(String(row?.['schema']));
    await sql.listen(store.#channel, (payload) => store.#announce(payload));
    return store;
  }

  async write(record: NewRecord, now: number): Promise<WriteOutcome> {
    const { path } = record;
    const [row] = await retrying(
      () => this.#sql<Row[]>`
      SELECT postern_relay_write(${buf(path.sender)}, ${buf(path.recordId)}, ${buf(path.receiver)},
        ${buf(record.message)}, ${record.contentBytes}, ${buf(record.digest)}, ${now}, ${record.expiresAt},
        ${formatPath(path)}, ${this.#channel}) AS outcome`,
    );
    const outcome = parseWriteOutcome(row?.['outcome'] as string);
    if (outcome.type === 'stored') this.#announceLocal(path);
    return outcome;
  }

  async read(path: RecordPath, pullsMax: number, now: number): Promise<ReadOutcome> {
    const [row] = await retrying(
      () => this.#sql<Row[]>`
      SELECT * FROM postern_relay_read(${buf(path.sender)}, ${buf(path.recordId)}, ${buf(path.receiver)},
        ${pullsMax}, ${now})`,
    );
    const outcome = row?.['outcome'] as string;
    if (outcome === 'found') return { type: 'found', message: bytes(row?.['message']) };
    return { type: outcome === 'pull-limit' ? 'pull-limit' : 'missing' };
  }

  async delete(
    requester: Uint8Array,
    recordId: Uint8Array,
    now: number,
    tombstoneMs: number,
  ): Promise<DeleteOutcome> {
    const [row] = await retrying(
      () => this.#sql<Row[]>`
      SELECT * FROM postern_relay_delete(${buf(requester)}, ${buf(recordId)}, ${now + tombstoneMs})`,
    );
    return { deleted: Number(row?.['deleted'] ?? 0), foreign: Number(row?.['foreign_rows'] ?? 0) };
  }

  async inventory(
    receiver: Uint8Array,
    afterTs: number,
    beforeTs: number,
    limit: number,
    now: number,
  ): Promise<Page<RecordPath>> {
    const list = async (after: number, before: number, max: number) =>
      (
        await this.#sql<Row[]>`
          SELECT sender, record_id, receiver, stored_at FROM records
          WHERE receiver = ${buf(receiver)} AND message IS NOT NULL AND expires_at > ${now}
            AND stored_at > ${after} AND stored_at <= ${before}
          ORDER BY stored_at, sender, record_id LIMIT ${max}`
      ).map(toListed);
    const page = await listPage(list, afterTs, beforeTs, limit);
    return { ...page, items: page.items.map((row) => row.path) };
  }

  async usage(
    sender: Uint8Array,
    afterTs: number,
    beforeTs: number,
    limit: number,
  ): Promise<Page<UsageEntry>> {
    const list = async (after: number, before: number, max: number) =>
      (
        await this.#sql<Row[]>`
          SELECT receiver, record_id, ts, bytes FROM usage
          WHERE sender = ${buf(sender)} AND ts > ${after} AND ts <= ${before} ORDER BY ts, id LIMIT ${max}`
      ).map((row) => toUsage(sender, row));
    return listPage(list, afterTs, beforeTs, limit);
  }

  async claimNonce(from: Uint8Array, nonce: Uint8Array, keepUntil: number): Promise<boolean> {
    const result = await this.#sql`
      INSERT INTO nonces (signer, nonce, keep_until) VALUES (${buf(from)}, ${buf(nonce)}, ${keepUntil})
      ON CONFLICT DO NOTHING`;
    return result.count === 1;
  }

  async account(pubkey: Uint8Array): Promise<Account | undefined> {
    const [row] = await this.#sql<Row[]>`SELECT * FROM accounts WHERE pubkey = ${buf(pubkey)}`;
    return row === undefined ? undefined : toAccount(row);
  }

  async openAccount(pubkey: Uint8Array, quota: Quota, source: string, now: number): Promise<void> {
    await this.#sql`
      INSERT INTO accounts (pubkey, records_max, bytes_max, active, source, opened_at)
      VALUES (${buf(pubkey)}, ${quota.recordsMax}, ${quota.bytesMax}, true, ${source}, ${now})
      ON CONFLICT (pubkey) DO UPDATE SET records_max = excluded.records_max, bytes_max = excluded.bytes_max,
        active = true, source = excluded.source`;
  }

  async closeAccount(pubkey: Uint8Array, _now: number, source: string): Promise<boolean> {
    const result = await this.#sql`
      UPDATE accounts SET active = false, source = ${source} WHERE pubkey = ${buf(pubkey)} AND active`;
    return result.count === 1;
  }

  async accounts(): Promise<Account[]> {
    return (await this.#sql<Row[]>`SELECT * FROM accounts ORDER BY opened_at, pubkey`).map(toAccount);
  }

  async expire(now: number, usageBefore: number): Promise<ExpireCounts> {
    const [records] = await retrying(
      () => this.#sql<Row[]>`
      WITH gone AS (
        DELETE FROM records WHERE expires_at <= ${now}
        RETURNING sender, content_bytes, message IS NOT NULL AS live),
      released AS (
        UPDATE accounts a SET records = a.records - g.n, bytes = a.bytes - g.b
        FROM (SELECT sender, count(*) AS n, sum(content_bytes) AS b FROM gone WHERE live GROUP BY sender) g
        WHERE a.pubkey = g.sender)
      SELECT count(*)::int AS n FROM gone`,
    );
    const nonces = await this.#sql`DELETE FROM nonces WHERE keep_until <= ${now}`;
    const usage = await this.#sql`DELETE FROM usage WHERE ts <= ${usageBefore}`;
    return { records: Number(records?.['n'] ?? 0), nonces: nonces.count, usage: usage.count };
  }

  subscribe(listener: (paths: readonly RecordPath[]) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async relayKey(create: () => StoredKey): Promise<StoredKey> {
    const [row] = await this.#sql<Row[]>`SELECT public_key, secret_key FROM relay_key WHERE id = 1`;
    if (row !== undefined)
      return { publicKey: bytes(row['public_key']), secretKey: bytes(row['secret_key']) };
    const key = create();
    // Two processes starting together: the first insert wins and both read it back.
    await this.#sql`
      INSERT INTO relay_key (id, public_key, secret_key) VALUES (1, ${buf(key.publicKey)}, ${buf(key.secretKey)})
      ON CONFLICT DO NOTHING`;
    return this.relayKey(create);
  }

  async close(): Promise<void> {
    this.#listeners.clear();
    await this.#sql.end({ timeout: 5 });
  }

  /** This process stored a record: tell its listeners now, and not again when the NOTIFY comes back. */
  #announceLocal(path: RecordPath): void {
    this.#announcedHere.set(formatPath(path), true);
    for (const listener of this.#listeners) listener([path]);
  }

  /** A NOTIFY from any process, this one included: one path per record stored. */
  #announce(payload: string): void {
    if (this.#announcedHere.delete(payload)) return;
    const path = parsePath(payload);
    if (!path.ok) return; // not ours: something else NOTIFYs on the channel
    for (const listener of this.#listeners) listener([path.value]);
  }
}

function buf(value: Uint8Array): Buffer {
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

function parseWriteOutcome(text: string): WriteOutcome {
  const [type, ...numbers] = text.split(' ');
  if (type === 'full') {
    const [records, recordsMax, bytesNow, bytesMax] = numbers.map(Number) as [number, number, number, number];
    return { type: 'full', records, recordsMax, bytes: bytesNow, bytesMax };
  }
  return { type: type as 'stored' | 'duplicate' | 'taken' | 'no-account' };
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}

async function migrate(sql: postgres.Sql, schema: string | undefined): Promise<void> {
  await sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`;
    if (schema !== undefined) await tx`CREATE SCHEMA IF NOT EXISTS ${tx(schema)}`;
    await tx.unsafe(SCHEMA);
    const [row] = await tx<Row[]>`SELECT schema_version FROM relay_meta WHERE id = 1`;
    const version = row === undefined ? undefined : Number(row['schema_version']);
    if (version !== undefined && version > RELAY_SCHEMA_VERSION) {
      throw new RelayStoreError(
        'RELAY_STORE_NEWER',
        `the relay database was written by a newer Postern (schema ${version}); upgrade Postern to open it`,
      );
    }
    await tx`INSERT INTO relay_meta (id, schema_version) VALUES (1, ${RELAY_SCHEMA_VERSION})
      ON CONFLICT (id) DO UPDATE SET schema_version = excluded.schema_version`;
    await tx.unsafe(FUNCTIONS);
  });
}

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS relay_meta (id int PRIMARY KEY CHECK (id = 1), schema_version int NOT NULL);
  CREATE TABLE IF NOT EXISTS relay_key (id int PRIMARY KEY CHECK (id = 1), public_key bytea NOT NULL, secret_key bytea NOT NULL);
  CREATE TABLE IF NOT EXISTS accounts (
    pubkey bytea PRIMARY KEY, records_max bigint NOT NULL, bytes_max bigint NOT NULL,
    records bigint NOT NULL DEFAULT 0, bytes bigint NOT NULL DEFAULT 0,
    active boolean NOT NULL, source text NOT NULL, opened_at bigint NOT NULL);
  CREATE TABLE IF NOT EXISTS records (
    sender bytea NOT NULL, record_id bytea NOT NULL, receiver bytea NOT NULL, message bytea,
    content_bytes int NOT NULL, digest bytea NOT NULL, stored_at bigint NOT NULL,
    expires_at bigint NOT NULL, pulls int NOT NULL DEFAULT 0,
    PRIMARY KEY (sender, record_id));
  CREATE INDEX IF NOT EXISTS records_by_receiver ON records (receiver, stored_at);
  CREATE INDEX IF NOT EXISTS records_by_expiry ON records (expires_at);
  CREATE INDEX IF NOT EXISTS records_by_id ON records (record_id);
  CREATE TABLE IF NOT EXISTS nonces (
    signer bytea NOT NULL, nonce bytea NOT NULL, keep_until bigint NOT NULL, PRIMARY KEY (signer, nonce));
  CREATE INDEX IF NOT EXISTS nonces_by_expiry ON nonces (keep_until);
  CREATE TABLE IF NOT EXISTS usage (
    id bigserial PRIMARY KEY, sender bytea NOT NULL, receiver bytea NOT NULL, record_id bytea NOT NULL,
    ts bigint NOT NULL, bytes int NOT NULL);
  CREATE INDEX IF NOT EXISTS usage_by_sender ON usage (sender, ts);
`;

/**
 * Each change as one function, so it is one round trip and one transaction. A write checks the
 * account, inserts (a concurrent write of the same id waits on the key, then finds it), then
 * charges the quota, undoing the insert if there is no room.
 */
const FUNCTIONS = `
  DROP FUNCTION IF EXISTS postern_relay_write(bytea, bytea, bytea, bytea, int, bytea, bigint, bigint, text);
  CREATE OR REPLACE FUNCTION postern_relay_write(p_sender bytea, p_id bytea, p_receiver bytea, p_message bytea,
      p_bytes int, p_digest bytea, p_now bigint, p_expires bigint, p_path text, p_channel text) RETURNS text AS $$
  DECLARE a accounts%ROWTYPE; r records%ROWTYPE;
  BEGIN
    SELECT * INTO r FROM records WHERE sender = p_sender AND record_id = p_id FOR UPDATE;
    IF FOUND AND r.expires_at <= p_now THEN
      -- Expired but not yet swept: it is gone; sweep it now so the id can be written again.
      DELETE FROM records WHERE sender = p_sender AND record_id = p_id;
      IF r.message IS NOT NULL THEN
        UPDATE accounts SET records = records - 1, bytes = bytes - r.content_bytes WHERE pubkey = p_sender;
      END IF;
    ELSIF FOUND THEN
      IF r.digest = p_digest AND r.receiver = p_receiver THEN RETURN 'duplicate'; END IF;
      RETURN 'taken';
    END IF;
    SELECT * INTO a FROM accounts WHERE pubkey = p_sender;
    IF NOT FOUND OR NOT a.active THEN RETURN 'no-account'; END IF;
    INSERT INTO records (sender, record_id, receiver, message, content_bytes, digest, stored_at, expires_at)
      VALUES (p_sender, p_id, p_receiver, p_message, p_bytes, p_digest, p_now, p_expires)
      ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
      -- A concurrent write of the same id committed first.
      SELECT * INTO r FROM records WHERE sender = p_sender AND record_id = p_id;
      IF r.digest = p_digest AND r.receiver = p_receiver THEN RETURN 'duplicate'; END IF;
      RETURN 'taken';
    END IF;
    UPDATE accounts SET records = records + 1, bytes = bytes + p_bytes
      WHERE pubkey = p_sender AND active AND records < records_max AND bytes + p_bytes <= bytes_max;
    IF NOT FOUND THEN
      DELETE FROM records WHERE sender = p_sender AND record_id = p_id;
      SELECT * INTO a FROM accounts WHERE pubkey = p_sender;
      IF NOT FOUND OR NOT a.active THEN RETURN 'no-account'; END IF;
      RETURN 'full ' || a.records || ' ' || a.records_max || ' ' || a.bytes || ' ' || a.bytes_max;
    END IF;
    PERFORM pg_notify(p_channel, p_path);
    RETURN 'stored';
  END $$ LANGUAGE plpgsql;

  CREATE OR REPLACE FUNCTION postern_relay_read(p_sender bytea, p_id bytea, p_receiver bytea, p_pulls_max int,
      p_now bigint) RETURNS TABLE (outcome text, message bytea) AS $$
  DECLARE r records%ROWTYPE;
  BEGIN
    SELECT * INTO r FROM records WHERE sender = p_sender AND record_id = p_id FOR UPDATE;
    IF NOT FOUND OR r.message IS NULL OR r.expires_at <= p_now OR r.receiver <> p_receiver THEN
      RETURN QUERY SELECT 'missing'::text, NULL::bytea; RETURN;
    END IF;
    IF r.pulls >= p_pulls_max THEN RETURN QUERY SELECT 'pull-limit'::text, NULL::bytea; RETURN; END IF;
    UPDATE records SET pulls = pulls + 1 WHERE sender = p_sender AND record_id = p_id;
    INSERT INTO usage (sender, receiver, record_id, ts, bytes) VALUES (p_sender, p_receiver, p_id, p_now, r.content_bytes);
    RETURN QUERY SELECT 'found'::text, r.message;
  END $$ LANGUAGE plpgsql;

  DROP FUNCTION IF EXISTS postern_relay_delete(bytea, bytea);
  CREATE OR REPLACE FUNCTION postern_relay_delete(p_requester bytea, p_id bytea, p_tombstone_until bigint)
      RETURNS TABLE (deleted int, foreign_rows int) AS $$
  DECLARE r records%ROWTYPE; d int := 0; f int := 0;
  BEGIN
    FOR r IN SELECT * FROM records WHERE record_id = p_id ORDER BY sender FOR UPDATE LOOP
      IF r.sender <> p_requester AND r.receiver <> p_requester THEN f := f + 1; CONTINUE; END IF;
      IF r.message IS NULL THEN CONTINUE; END IF;
      UPDATE records SET message = NULL, expires_at = least(expires_at, p_tombstone_until)
        WHERE sender = r.sender AND record_id = p_id;
      UPDATE accounts SET records = records - 1, bytes = bytes - r.content_bytes WHERE pubkey = r.sender;
      d := d + 1;
    END LOOP;
    RETURN QUERY SELECT d, f;
  END $$ LANGUAGE plpgsql;
`;
