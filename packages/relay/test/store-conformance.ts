import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { bytesEqual } from '@postern/core';
import type { NewRecord, RecordPath, RelayStore } from '../src/index.ts';

/**
 * The one conformance suite every RelayStore passes (SQLite, PGlite, a real PostgreSQL server).
 * `open` gives a fresh, empty store; `reopen` a second store on the same data (a restart, or a
 * second relay process on a shared database).
 */
export interface StoreHarness {
  readonly store: RelayStore;
  /** Whether a second store hears the first one's records (PostgreSQL: yes; SQLite is one process). */
  readonly sharedAnnouncements: boolean;
  reopen(): Promise<RelayStore>;
  cleanup(): Promise<void>;
}

const T0 = 1_800_000_000_000;
const DAY = 86_400_000;
const QUOTA = { recordsMax: 5, bytesMax: 1000 };

let counter = 0;
function key(tag: number): Uint8Array {
  return new Uint8Array(32).fill(tag);
}
function recordId(): Uint8Array {
  counter++;
  const id = new Uint8Array(16);
  new DataView(id.buffer).setUint32(12, counter);
  id[0] = 0xaa;
  return id;
}
function record(
  sender: Uint8Array,
  receiver: Uint8Array,
  options: Partial<NewRecord> & { bytes?: number } = {},
): NewRecord {
  const path = options.path ?? { sender, receiver, recordId: recordId() };
  const contentBytes = options.bytes ?? 100;
  return {
    path,
    message: options.message ?? new Uint8Array([1, 2, 3, path.recordId[15] ?? 0]),
    contentBytes,
    digest: options.digest ?? new Uint8Array(32).fill(contentBytes & 0xff),
    expiresAt: options.expiresAt ?? T0 + DAY,
  };
}
function samePath(a: RecordPath, b: RecordPath): boolean {
  return (
    bytesEqual(a.sender, b.sender) && bytesEqual(a.receiver, b.receiver) && bytesEqual(a.recordId, b.recordId)
  );
}

export function relayStoreConformance(name: string, open: () => Promise<StoreHarness>): void {
  describe(`RelayStore conformance: ${name}`, () => {
    let h: StoreHarness;
    let store: RelayStore;
    // Each test uses its own keys, so tests share one store without seeing each other.
    let next = 1;
    const fresh = () => key(next++);
    const account = async (quota = QUOTA) => {
      const k = fresh();
      await store.openAccount(k, quota, 'operator', T0);
      return k;
    };

    before(async () => {
      h = await open();
      store = h.store;
    });
    after(async () => {
      await h.cleanup();
    });

    it('stores a record from an account holder and returns it to its receiver, counting a pull', async () => {
      const [alice, bob] = [await account(), fresh()];
      const r = record(alice, bob);
      assert.deepEqual(await store.write(r, T0), { type: 'stored' });
      const read = await store.read(r.path, 8, T0 + 1);
      assert.equal(read.type, 'found');
      assert.ok(read.type === 'found' && bytesEqual(read.message, r.message));
      const usage = await store.usage(alice, T0, T0 + 10, 100);
      assert.equal(usage.items.length, 1);
      assert.ok(samePath(usage.items[0]!.path, r.path));
      assert.equal(usage.items[0]!.bytes, 100);
      assert.equal(usage.items[0]!.ts, T0 + 1);
      const acc = await store.account(alice);
      assert.equal(acc?.records, 1);
      assert.equal(acc?.bytes, 100);
    });

    it('refuses a write from a key with no account or a closed one', async () => {
      const [stranger, bob] = [fresh(), fresh()];
      assert.deepEqual(await store.write(record(stranger, bob), T0), { type: 'no-account' });
      const closing = await account();
      assert.equal(await store.closeAccount(closing, T0, 'operator'), true);
      assert.equal(await store.closeAccount(closing, T0, 'operator'), false);
      assert.deepEqual(await store.write(record(closing, bob), T0), { type: 'no-account' });
      assert.equal((await store.account(closing))?.active, false);
    });

    it('treats a repeated write as a duplicate and a clashing one as taken', async () => {
      const [alice, bob, carol] = [await account(), fresh(), fresh()];
      const r = record(alice, bob);
      await store.write(r, T0);
      assert.deepEqual(await store.write(r, T0 + 5), { type: 'duplicate' });
      assert.deepEqual(await store.write({ ...r, digest: new Uint8Array(32).fill(9) }, T0), {
        type: 'taken',
      });
      assert.deepEqual(await store.write({ ...r, path: { ...r.path, receiver: carol } }, T0), {
        type: 'taken',
      });
      assert.equal((await store.account(alice))?.records, 1);
    });

    it('answers full at the record and byte quotas, and a delete makes room', async () => {
      const [alice, bob] = [await account({ recordsMax: 2, bytesMax: 250 }), fresh()];
      const first = record(alice, bob);
      await store.write(first, T0);
      await store.write(record(alice, bob), T0);
      const full = await store.write(record(alice, bob), T0);
      assert.deepEqual(full, { type: 'full', records: 2, recordsMax: 2, bytes: 200, bytesMax: 250 });
      assert.deepEqual(await store.delete(bob, first.path.recordId, T0, 60_000), { deleted: 1, foreign: 0 });
      assert.deepEqual(await store.write(record(alice, bob, { bytes: 160 }), T0), {
        type: 'full',
        records: 1,
        recordsMax: 2,
        bytes: 100,
        bytesMax: 250,
      });
      assert.deepEqual(await store.write(record(alice, bob, { bytes: 50 }), T0), { type: 'stored' });
    });

    it('refuses a read past the pull limit and a read at the wrong receiver', async () => {
      const [alice, bob, eve] = [await account(), fresh(), fresh()];
      const r = record(alice, bob);
      await store.write(r, T0);
      for (let i = 0; i < 2; i++) assert.equal((await store.read(r.path, 2, T0)).type, 'found');
      assert.deepEqual(await store.read(r.path, 2, T0), { type: 'pull-limit' });
      assert.deepEqual(await store.read({ ...r.path, receiver: eve }, 8, T0), { type: 'missing' });
      assert.deepEqual(await store.read({ ...r.path, recordId: recordId() }, 8, T0), { type: 'missing' });
      assert.equal((await store.usage(alice, T0 - 1, T0 + 1, 100)).items.length, 2);
    });

    it('lets the sender or the receiver delete, nobody else, and a deleted record stays deleted', async () => {
      const [alice, bob, eve] = [await account(), fresh(), fresh()];
      const r = record(alice, bob);
      await store.write(r, T0);
      assert.deepEqual(await store.delete(eve, r.path.recordId, T0, 60_000), { deleted: 0, foreign: 1 });
      assert.equal((await store.read(r.path, 8, T0)).type, 'found');
      assert.deepEqual(await store.delete(alice, r.path.recordId, T0, 60_000), { deleted: 1, foreign: 0 });
      assert.deepEqual(await store.delete(alice, r.path.recordId, T0, 60_000), { deleted: 0, foreign: 0 });
      assert.deepEqual(await store.read(r.path, 8, T0), { type: 'missing' });
      // A replayed write finds the tombstone: nothing comes back, nothing is charged.
      assert.deepEqual(await store.write(r, T0), { type: 'duplicate' });
      assert.deepEqual(await store.read(r.path, 8, T0), { type: 'missing' });
      assert.equal((await store.account(alice))?.records, 0);
    });

    it("lists a receiver's live records in a window, oldest first, in pages that never skip", async () => {
      const [alice, bob] = [await account({ recordsMax: 100, bytesMax: 100_000 }), fresh()];
      const written: RecordPath[] = [];
      // Three records in each of five milliseconds, one expired.
      for (let ms = 1; ms <= 5; ms++) {
        for (let i = 0; i < 3; i++) {
          const r = record(alice, bob, { expiresAt: ms === 3 && i === 0 ? T0 + 50 : T0 + DAY });
          await store.write(r, T0 + ms);
          if (!(ms === 3 && i === 0)) written.push(r.path);
        }
      }
      const listed: RecordPath[] = [];
      let afterTs = T0;
      let pages = 0;
      for (; pages < 20; pages++) {
        const page = await store.inventory(bob, afterTs, T0 + 10, 4, T0 + 100);
        assert.ok(
          page.items.length <= 4 || page.items.length === 3,
          'a page holds at most the limit, or one whole ms',
        );
        listed.push(...page.items);
        if (page.complete) break;
        assert.ok(page.throughTs > afterTs);
        afterTs = page.throughTs;
      }
      assert.ok(pages > 1, 'the listing took several pages');
      assert.equal(listed.length, written.length);
      for (const [i, path] of written.entries())
        assert.ok(samePath(listed[i]!, path), `record ${i} in order`);
      // One millisecond larger than a page is listed whole.
      const page = await store.inventory(bob, T0 + 1, T0 + 2, 2, T0 + 100);
      assert.equal(page.items.length, 3);
      assert.equal(page.throughTs, T0 + 2);
      assert.equal(page.complete, true);
    });

    it('keeps a deleted record as a tombstone only as long as asked, and never gives its room back twice', async () => {
      const [alice, bob] = [await account(), fresh()];
      const r = record(alice, bob);
      await store.write(r, T0);
      await store.delete(bob, r.path.recordId, T0, 10);
      assert.equal((await store.account(alice))?.records, 0);
      assert.deepEqual(await store.write(r, T0 + 5), { type: 'duplicate' }, 'the tombstone stops a replay');
      await store.expire(T0 + 11, 0);
      assert.equal((await store.account(alice))?.records, 0, 'sweeping the tombstone releases nothing more');
      assert.deepEqual(
        await store.write(r, T0 + 12),
        { type: 'stored' },
        'the id is free once the tombstone is gone',
      );
      assert.equal((await store.account(alice))?.records, 1);
    });

    it('treats an expired record that was not swept yet as absent', async () => {
      const [alice, bob] = [await account(), fresh()];
      const old = record(alice, bob, { expiresAt: T0 + 10 });
      await store.write(old, T0);
      const again = { ...old, digest: new Uint8Array(32).fill(77), expiresAt: T0 + DAY };
      assert.deepEqual(await store.write(again, T0 + 20), { type: 'stored' });
      const read = await store.read(old.path, 8, T0 + 21);
      assert.equal(read.type, 'found');
      assert.equal((await store.account(alice))?.records, 1, 'the expired one gave its room back');
    });

    it('acknowledges a retried write after the account was closed: it is stored', async () => {
      const [alice, bob] = [await account(), fresh()];
      const r = record(alice, bob);
      await store.write(r, T0);
      await store.closeAccount(alice, T0, 'operator');
      assert.deepEqual(await store.write(r, T0 + 1), { type: 'duplicate' });
      assert.deepEqual(await store.write(record(alice, bob), T0 + 1), { type: 'no-account' });
    });

    it('pages through usage without skipping an entry', async () => {
      const [alice, bob] = [await account({ recordsMax: 100, bytesMax: 100_000 }), fresh()];
      const paths: RecordPath[] = [];
      for (let i = 0; i < 7; i++) {
        const r = record(alice, bob);
        await store.write(r, T0);
        await store.read(r.path, 8, T0 + 1 + Math.floor(i / 2));
        paths.push(r.path);
      }
      const seen: RecordPath[] = [];
      let afterTs = T0;
      for (let pages = 0; pages < 20; pages++) {
        const page = await store.usage(alice, afterTs, T0 + 100, 3);
        seen.push(...page.items.map((u) => u.path));
        if (page.complete) break;
        afterTs = page.throughTs;
      }
      assert.equal(seen.length, 7);
      for (const [i, path] of paths.entries()) assert.ok(samePath(seen[i]!, path), `entry ${i}`);
    });

    it('claims a nonce once', async () => {
      const signer = fresh();
      const nonce = new Uint8Array(16).fill(7);
      assert.equal(await store.claimNonce(signer, nonce, T0 + 1000), true);
      assert.equal(await store.claimNonce(signer, nonce, T0 + 1000), false);
      assert.equal(await store.claimNonce(fresh(), nonce, T0 + 1000), true);
    });

    it('expires records, giving their room back, and old nonces and usage', async () => {
      const [alice, bob] = [await account(), fresh()];
      const short = record(alice, bob, { expiresAt: T0 + 10 });
      const long = record(alice, bob);
      await store.write(short, T0);
      await store.write(long, T0);
      await store.read(long.path, 8, T0 + 1);
      await store.claimNonce(alice, new Uint8Array(16).fill(1), T0 + 5);
      assert.equal((await store.account(alice))?.records, 2);
      const counts = await store.expire(T0 + 20, T0 + 2);
      assert.ok(counts.records >= 1 && counts.nonces >= 1 && counts.usage >= 1);
      assert.equal((await store.read(short.path, 8, T0 + 20)).type, 'missing');
      assert.equal((await store.read(long.path, 8, T0 + 20)).type, 'found');
      const acc = await store.account(alice);
      assert.equal(acc?.records, 1);
      assert.equal(acc?.bytes, 100);
      assert.equal(await store.claimNonce(alice, new Uint8Array(16).fill(1), T0 + 5), true);
    });

    it('announces stored records to subscribers, and to a second store on shared data', async () => {
      const [alice, bob] = [await account(), fresh()];
      const other = await h.reopen();
      try {
        const heard = (s: RelayStore) =>
          new Promise<RecordPath>((resolve) => {
            const stop = s.subscribe((paths) => {
              const mine = paths.find((p) => bytesEqual(p.receiver, bob));
              if (mine === undefined) return;
              stop();
              resolve(mine);
            });
          });
        const here = heard(store);
        const there = h.sharedAnnouncements ? heard(other) : Promise.resolve(undefined);
        const r = record(alice, bob);
        await store.write(r, T0);
        assert.ok(samePath(await here, r.path));
        const overThere = await there;
        if (h.sharedAnnouncements) assert.ok(overThere !== undefined && samePath(overThere, r.path));
        // The second store sees what the first stored, and the first what the second stores.
        assert.equal((await other.read(r.path, 8, T0)).type, 'found');
        const r2 = record(alice, bob);
        assert.deepEqual(await other.write(r2, T0), { type: 'stored' });
        assert.equal((await store.read(r2.path, 8, T0)).type, 'found');
      } finally {
        await other.close();
      }
    });

    it('stores exactly one of two concurrent writes of the same record id', async () => {
      const [alice, bob] = [await account(), fresh()];
      const r = record(alice, bob);
      const outcomes = await Promise.all([
        store.write(r, T0),
        store.write({ ...r, digest: new Uint8Array(32).fill(3) }, T0),
      ]);
      const types = outcomes.map((o) => o.type).sort();
      assert.deepEqual(types, ['stored', 'taken']);
      assert.equal((await store.account(alice))?.records, 1);
    });

    it('keeps one relay key, created once', async () => {
      let created = 0;
      const make = () => {
        created++;
        return { publicKey: key(200 + created), secretKey: new Uint8Array(64).fill(created) };
      };
      const first = await store.relayKey(make);
      const second = await store.relayKey(make);
      assert.ok(bytesEqual(first.publicKey, second.publicKey));
      assert.ok(bytesEqual(first.secretKey, second.secretKey));
      assert.ok(created <= 1);
    });

    it('reopens an account with a new quota and lists accounts', async () => {
      const alice = await account({ recordsMax: 1, bytesMax: 1000 });
      await store.closeAccount(alice, T0, 'operator');
      await store.openAccount(alice, { recordsMax: 3, bytesMax: 3000 }, 'allow-list', T0 + 1);
      const acc = await store.account(alice);
      assert.equal(acc?.active, true);
      assert.equal(acc?.recordsMax, 3);
      assert.equal(acc?.source, 'allow-list');
      assert.ok((await store.accounts()).some((a) => bytesEqual(a.pubkey, alice)));
    });
  });
}
