// The behaviour every Storage backend owes its callers, run against each (sqlite.test.ts, etcd.test.ts). Revisions
// are counted from the store's revision when a test starts: etcd's first write is not revision 1, and a backend may
// spend revisions on keys of its own (etcd records compactions in a key).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { StorageError, type Storage, type StorageErrorCode, type StorageEvent } from '../../src/storage/interface.ts';
import type { WatchErrorHandler } from '../../src/storage/watch.ts';
import { collect, database, key, PREFIX, rv, settle } from './helpers.ts';

export interface StorageFactory {
  /** A new store of its own (keys no other test sees). */
  open(options?: { onWatchError?: WatchErrorHandler }): Promise<Storage>;
  /** A durable store: every call of the function opens it again, as a restart or another replica would. */
  shared(): () => Promise<Storage>;
}

export const rejectsWith = (promise: Promise<unknown>, code: StorageErrorCode) =>
  assert.rejects(promise, (error: unknown) => error instanceof StorageError && error.code === code);

/** Watch tests wait for events; a missing event fails its test instead of hanging the file. */
export const WAITS = { timeout: 10_000 };

/** Events as `<revision - base> <type> <key below PREFIX>`. */
const summaryFrom = (base: number) => (events: StorageEvent[]) =>
  events.map((e) => `${e.revision - base} ${e.type} ${e.key.slice(PREFIX.length)}`);

export function storageSuite(name: string, factory: StorageFactory): void {
  describe(`${name} (the shared storage suite)`, () => {
    it('round-trips create, get, list, update and delete with revisions as resourceVersions', async () => {
      const s = await factory.open();
      const base = s.currentRevision();
      const r = (n: number) => String(base + n);
      const created = await s.create(key('a', 'one'), database('a', 'one'));
      assert.equal(created.metadata.resourceVersion, r(1));
      assert.deepEqual(await s.get(key('a', 'one')), created);
      await s.create(key('a', 'two'), database('a', 'two'));
      const list = await s.list(PREFIX);
      assert.deepEqual(
        list.items.map((o) => `${o.metadata.name}@${o.metadata.resourceVersion}`),
        [`one@${r(1)}`, `two@${r(2)}`],
      );
      assert.equal(list.revision, base + 2);

      const updated = await s.update(key('a', 'one'), database('a', 'one', 3), base + 1);
      assert.equal(updated.metadata.resourceVersion, r(3));
      assert.equal((await s.get(key('a', 'one')))?.spec.replicas, 3);

      const deleted = await s.delete(key('a', 'one'), base + 3);
      assert.equal(deleted.metadata.resourceVersion, r(4), 'a deletion returns the last state at the deletion revision');
      assert.equal(deleted.spec.replicas, 3);
      assert.equal(await s.get(key('a', 'one')), undefined);
      assert.deepEqual((await s.list(PREFIX)).items.map((o) => o.metadata.name), ['two']);
      assert.equal(s.currentRevision(), base + 4);

      const recreated = await s.create(key('a', 'one'), database('a', 'one'));
      assert.equal(recreated.metadata.resourceVersion, r(5));
      await s.close();
    });

    describe('refuses writes that do not fit the stored state', () => {
      const cases: { name: string; code: StorageErrorCode; act: (s: Storage, base: number) => Promise<unknown> }[] = [
        { name: 'create of a live key', code: 'AlreadyExists', act: (s) => s.create(key('a', 'x'), database('a', 'x')) },
        { name: 'update at a stale revision', code: 'Conflict', act: (s, base) => s.update(key('a', 'x'), database('a', 'x'), base + 1) },
        { name: 'delete at a stale revision', code: 'Conflict', act: (s, base) => s.delete(key('a', 'x'), base + 1) },
        { name: 'update of a missing key', code: 'NotFound', act: (s, base) => s.update(key('a', 'nope'), database('a', 'nope'), base + 2) },
        { name: 'delete of a missing key', code: 'NotFound', act: (s, base) => s.delete(key('a', 'nope'), base + 2) },
        { name: 'update of a deleted key', code: 'NotFound', act: (s, base) => s.update(key('a', 'gone'), database('a', 'gone'), base + 3) },
        { name: 'update expecting revision 0 of a missing key', code: 'NotFound', act: (s) => s.update(key('a', 'nope'), database('a', 'nope'), 0) },
        { name: 'list above the newest revision', code: 'TooLargeResourceVersion', act: (s, base) => s.list(PREFIX, { revision: base + 5 }) },
      ];
      for (const c of cases) {
        it(`${c.name}: ${c.code}`, async () => {
          const s = await factory.open();
          const base = s.currentRevision();
          await s.create(key('a', 'x'), database('a', 'x')); // 1
          await s.update(key('a', 'x'), database('a', 'x', 2), base + 1); // 2
          await s.create(key('a', 'gone'), database('a', 'gone')); // 3
          await s.delete(key('a', 'gone'), base + 3); // 4
          await rejectsWith(c.act(s, base), c.code);
          assert.equal(s.currentRevision(), base + 4, 'a refused write takes no revision');
          assert.equal((await s.get(key('a', 'x')))?.spec.replicas, 2);
          assert.equal(await s.get(key('a', 'nope')), undefined);
          await s.close();
        });
      }
    });

    it('gives one of two instances racing on a key a Conflict', async () => {
      const open = factory.shared();
      const [first, second] = await Promise.all([open(), open()]);
      const created = await first.create(key('a', 'x'), database('a', 'x'));
      const results = await Promise.allSettled([
        first.update(key('a', 'x'), database('a', 'x', 2), rv(created)),
        second.update(key('a', 'x'), database('a', 'x', 3), rv(created)),
      ]);
      assert.deepEqual(results.map((r) => (r.status === 'fulfilled' ? 'ok' : (r.reason as StorageError).code)).sort(), ['Conflict', 'ok']);
      const winner = results.findIndex((r) => r.status === 'fulfilled');
      assert.equal((await second.get(key('a', 'x')))?.spec.replicas, winner === 0 ? 2 : 3, 'the winner is what both read');
      await first.close();
      await second.close();
    });

    describe('lists the state as of an older revision', () => {
      let s: Storage;
      let base: number;
      before(async () => {
        s = await factory.open();
        base = s.currentRevision();
        await s.create(key('a', 'x'), database('a', 'x', 1)); // 1
        await s.create(key('a', 'y'), database('a', 'y', 1)); // 2
        await s.update(key('a', 'x'), database('a', 'x', 2), base + 1); // 3
        await s.delete(key('a', 'y'), base + 2); // 4
        await s.create(key('a', 'y'), database('a', 'y', 7)); // 5
      });
      after(() => s.close());
      const cases: [revision: number, expected: string[]][] = [
        [0, []],
        [1, ['x:1@1']],
        [2, ['x:1@1', 'y:1@2']],
        [3, ['x:2@3', 'y:1@2']],
        [4, ['x:2@3']],
        [5, ['x:2@3', 'y:7@5']],
      ];
      for (const [revision, expected] of cases) {
        it(`at revision ${revision}`, async () => {
          const list = await s.list(PREFIX, { revision: base + revision });
          assert.equal(list.revision, base + revision);
          assert.deepEqual(
            list.items.map((o) => `${o.metadata.name}:${o.spec.replicas}@${Number(o.metadata.resourceVersion) - base}`),
            expected,
          );
        });
      }
    });

    it('treats a prefix as a directory, so /a/b never matches /a/bc', WAITS, async () => {
      const s = await factory.open();
      const base = s.currentRevision();
      for (const k of ['/a/b/x', '/a/bc/y', '/a/b', '/a/b0', '/a/a/z']) await s.create(k, database('', k));
      const names = async (prefix: string) => (await s.list(prefix)).items.map((o) => o.metadata.name);
      assert.deepEqual(await names('/a/b'), ['/a/b/x']);
      assert.deepEqual(await names('/a/b/'), ['/a/b/x']);
      assert.deepEqual(await names('/a/'), ['/a/a/z', '/a/b', '/a/b/x', '/a/b0', '/a/bc/y']);
      assert.deepEqual((await s.list('/a/b', { revision: base + 3 })).items.map((o) => o.metadata.name), ['/a/b/x']);
      const watched = collect(s, '/a/b', base);
      await watched.until(1);
      await s.update('/a/bc/y', database('', '/a/bc/y', 2), base + 2);
      await s.update('/a/b/x', database('', '/a/b/x', 2), base + 1);
      await watched.until(2);
      assert.deepEqual(watched.events.map((e) => e.key), ['/a/b/x', '/a/b/x']);
      await s.close();
    });

    describe('watch', () => {
      it('replays history, then delivers live writes', WAITS, async () => {
        const s = await factory.open();
        const base = s.currentRevision();
        await s.create(key('a', 'x'), database('a', 'x'));
        await s.create(key('a', 'y'), database('a', 'y'));
        const watched = collect(s, PREFIX, base);
        await s.update(key('a', 'x'), database('a', 'x', 2), base + 1);
        await s.delete(key('a', 'y'), base + 2);
        assert.deepEqual(summaryFrom(base)(await watched.until(4)), ['1 ADDED a/x', '2 ADDED a/y', '3 MODIFIED a/x', '4 DELETED a/y']);
        await s.close();
      });

      it('carries the previous state on MODIFIED and DELETED, live and replayed', WAITS, async () => {
        const s = await factory.open();
        const base = s.currentRevision();
        const r = (n: number) => String(base + n);
        const live = collect(s, PREFIX, base);
        await s.create(key('a', 'x'), database('a', 'x', 1));
        await s.update(key('a', 'x'), database('a', 'x', 2), base + 1);
        await s.delete(key('a', 'x'), base + 2);
        const replayed = collect(s, PREFIX, base);
        for (const events of [await live.until(3), await replayed.until(3)]) {
          const [added, modified, deleted] = events;
          assert.equal(added.prevObject, undefined);
          assert.equal(modified.object.spec.replicas, 2);
          assert.equal(modified.prevObject?.spec.replicas, 1);
          assert.equal(modified.prevObject?.metadata.resourceVersion, r(1));
          assert.equal(deleted.object.metadata.resourceVersion, r(3), 'the deleted object carries the deletion revision');
          assert.equal(deleted.object.spec.replicas, 2, 'the deleted object is the last state');
          assert.equal(deleted.prevObject?.metadata.resourceVersion, r(2));
        }
        await s.close();
      });

      it('starts after fromRevision and waits for a revision not reached yet', WAITS, async () => {
        const s = await factory.open();
        const base = s.currentRevision();
        for (let i = 0; i < 4; i++) await s.create(key('a', `o${i}`), database('a', `o${i}`));
        const fromTwo = collect(s, PREFIX, base + 2);
        const future = collect(s, PREFIX, base + 5);
        await s.create(key('a', 'o4'), database('a', 'o4'));
        await s.create(key('a', 'o5'), database('a', 'o5'));
        const summary = summaryFrom(base);
        assert.deepEqual(summary(await fromTwo.until(4)), ['3 ADDED a/o2', '4 ADDED a/o3', '5 ADDED a/o4', '6 ADDED a/o5']);
        assert.deepEqual(summary(await future.until(1)), ['6 ADDED a/o5']);
        await s.close();
      });

      it('keeps delivering to the other watchers when a callback throws, and reports the failure', WAITS, async () => {
        const failures: StorageEvent[] = [];
        let failed: () => void = () => {};
        const bothFailed = new Promise<void>((resolve) => (failed = resolve));
        const s = await factory.open({
          onWatchError: (_error, event) => {
            failures.push(event);
            if (failures.length === 2) failed();
          },
        });
        const base = s.currentRevision();
        s.watch(PREFIX, base, () => {
          throw new Error('broken consumer');
        });
        const healthy = collect(s, PREFIX, base);
        await s.create(key('a', 'x'), database('a', 'x'));
        await s.create(key('a', 'y'), database('a', 'y'));
        assert.equal((await healthy.until(2)).length, 2);
        await bothFailed;
        assert.deepEqual(failures.map((e) => e.key), [key('a', 'x'), key('a', 'y')]);
        await s.close();
      });

      it('stops delivering once stopped', WAITS, async () => {
        const s = await factory.open();
        const base = s.currentRevision();
        const watched = collect(s, PREFIX, base);
        await s.create(key('a', 'x'), database('a', 'x'));
        await watched.until(1);
        watched.watcher.stop();
        await s.create(key('a', 'y'), database('a', 'y'));
        // A watcher started alongside receives y: the store delivered it, to everyone but the stopped one.
        await collect(s, PREFIX, base).until(2);
        await settle();
        assert.deepEqual(summaryFrom(base)(watched.events), ['1 ADDED a/x']);
        await s.close();
      });
    });

    describe('compaction', () => {
      /** Six revisions of history; returns the revision before them. */
      async function history(s: Storage): Promise<number> {
        const base = s.currentRevision();
        await s.create(key('a', 'x'), database('a', 'x', 1)); // 1
        await s.create(key('a', 'y'), database('a', 'y', 1)); // 2
        await s.update(key('a', 'x'), database('a', 'x', 2), base + 1); // 3
        await s.delete(key('a', 'y'), base + 2); // 4
        await s.update(key('a', 'x'), database('a', 'x', 3), base + 3); // 5
        await s.create(key('a', 'z'), database('a', 'z', 1)); // 6
        return base;
      }

      it('answers Expired below the horizon and keeps every state from the horizon on', WAITS, async () => {
        const s = await factory.open();
        const base = await history(s);
        const lists = () => Promise.all([4, 5, 6].map((n) => s.list(PREFIX, { revision: base + n })));
        const before = await lists();
        await s.compact(base + 4);
        assert.equal(s.compactedRevision(), base + 4);
        await rejectsWith(s.list(PREFIX, { revision: base + 3 }), 'Expired');
        assert.throws(() => s.watch(PREFIX, base + 3, () => {}), (e: unknown) => e instanceof StorageError && e.code === 'Expired');
        assert.deepEqual(await lists(), before);
        const resumed = await collect(s, PREFIX, base + 4).until(2);
        assert.deepEqual(summaryFrom(base)(resumed), ['5 MODIFIED a/x', '6 ADDED a/z']);
        assert.equal(resumed[0].prevObject?.metadata.resourceVersion, String(base + 3));
        await s.compact(base + 2);
        assert.equal(s.compactedRevision(), base + 4, 'the horizon never moves back');
        await s.close();
      });

      it('lets a deleted key be created again once its tombstone is compacted', async () => {
        const s = await factory.open();
        const base = await history(s);
        await s.compact(base + 6);
        const again = await s.create(key('a', 'y'), database('a', 'y', 9));
        assert.ok(rv(again) > base + 6);
        assert.equal(rv(again), s.currentRevision());
        assert.deepEqual((await s.list(PREFIX)).items.map((o) => o.metadata.name), ['x', 'y', 'z']);
        await s.close();
      });

      it('keeps the horizon across a restart', async () => {
        const open = factory.shared();
        const s = await open();
        const base = await history(s);
        await s.compact(base + 5);
        const revision = s.currentRevision();
        await s.close();
        const reopened = await open();
        assert.equal(reopened.compactedRevision(), base + 5);
        assert.equal(reopened.currentRevision(), revision);
        await rejectsWith(reopened.list(PREFIX, { revision: base + 4 }), 'Expired');
        assert.deepEqual((await reopened.list(PREFIX, { revision: base + 5 })).items.map((o) => o.metadata.name), ['x']);
        await reopened.close();
      });
    });

    it('keeps acknowledged writes across close and reopen', async () => {
      const open = factory.shared();
      const s = await open();
      const base = s.currentRevision();
      await s.create(key('a', 'x'), database('a', 'x', 1));
      const updated = await s.update(key('a', 'x'), database('a', 'x', 4), base + 1);
      await s.create(key('b', 'y'), database('b', 'y', 2));
      await s.close();
      const reopened = await open();
      assert.equal(reopened.currentRevision(), base + 3);
      assert.deepEqual(await reopened.get(key('a', 'x')), updated);
      assert.deepEqual((await reopened.list(PREFIX)).items.map((o) => o.metadata.name), ['x', 'y']);
      const next = await reopened.update(key('a', 'x'), database('a', 'x', 5), base + 2);
      assert.equal(rv(next), base + 4, 'revisions continue where they stopped');
      await reopened.close();
    });

    it('refuses calls once closed', async () => {
      const s = await factory.open();
      await s.close();
      await rejectsWith(s.get(key('a', 'x')), 'Unavailable');
      await rejectsWith(s.create(key('a', 'x'), database('a', 'x')), 'Unavailable');
    });
  });
}
