import type { Account, RecordPath, UsageEntry, WriteOutcome } from '@postern/relay';

/** Shared by the SQLite and PostgreSQL relay stores. */

/** Bump when a table's layout changes; an older database is migrated, a newer one refused. */
export const RELAY_SCHEMA_VERSION = 1;

export type Row = Record<string, unknown>;

export class RelayStoreError extends Error {
  override name = 'RelayStoreError';
  readonly code: 'RELAY_STORE_NEWER' | 'RELAY_STORE_UNREADABLE' | 'RELAY_STORE_CLOSED';
  constructor(code: RelayStoreError['code'], message: string, cause?: unknown) {
    super(message, { cause });
    this.code = code;
  }
}

export function fullness(account: Account, contentBytes: number): WriteOutcome | undefined {
  if (account.records < account.recordsMax && account.bytes + contentBytes <= account.bytesMax)
    return undefined;
  return {
    type: 'full',
    records: account.records,
    recordsMax: account.recordsMax,
    bytes: account.bytes,
    bytesMax: account.bytesMax,
  };
}

export function bytes(value: unknown): Uint8Array {
  return new Uint8Array(value as Buffer);
}

export function toListed(row: Row): { path: RecordPath; ts: number } {
  return {
    path: {
      receiver: bytes(row['receiver']),
      sender: bytes(row['sender']),
      recordId: bytes(row['record_id']),
    },
    ts: row['stored_at'] as number,
  };
}

export function toUsage(sender: Uint8Array, row: Row): UsageEntry {
  const receiver = bytes(row['receiver']);
  return {
    receiver,
    path: { receiver, sender, recordId: bytes(row['record_id']) },
    ts: row['ts'] as number,
    bytes: row['bytes'] as number,
  };
}

export function toAccount(row: Row): Account {
  return {
    pubkey: bytes(row['pubkey']),
    recordsMax: row['records_max'] as number,
    bytesMax: row['bytes_max'] as number,
    records: row['records'] as number,
    bytes: row['bytes'] as number,
    active: row['active'] === 1 || row['active'] === true,
    source: row['source'] as string,
    openedAt: row['opened_at'] as number,
  };
}
