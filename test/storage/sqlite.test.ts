import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { StorageError, type StorageErrorCode, type StorageEvent } from '../../src/storage/interface.ts';
import { SqliteStorage } from '../../src/storage/sqlite.ts';
import { collect, database, key, PREFIX, rv, settle, summary } from './helpers.ts';

const tmp = mkdtempSync(join(tmpdir(), 'strongroom-sqlite-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
let files = 0;
const tempFile = () => join(tmp, `store-${files++}.db`);

const rejectsWith = (promise: Promise<unknown>, code: StorageErrorCode) =>
  assert.rejects(promise, (error: unknown) => error instanceof StorageError && error.code === code);

/** Watch tests wait for events; a missing event fails its test instead of hanging the file. */
const WAITS = { timeout: 5_000 };

describe('SqliteStorage', () => {
  it('round-trips create, get, list, update and delete with revisions as resourceVersions', async () => {
    const s = SqliteStorage.open(':memory:');
    assert.equal(s.currentRevision(), 0);
    const created = await s.create(key('a', 'one'), database('a', 'one'));
    assert.equal(created.metadata.resourceVersion, '1');
    assert.deepEqual(await s.get(key('a', 'one')), created);
    await s.create(key('a', 'two'), database('a', 'two'));
    const list = await s.list(PREFIX);
    assert.deepEqual(
      list.items.map((o) => `${o.metadata.name}@${o.metadata.resourceVersion}`),
      ['one@1', 'two@2'],
    );
    assert.equal(list.revision, 2);

    const updated = await s.update(key('a', 'one'), database('a', 'one', 3), 1);
    assert.equal(updated.metadata.resourceVersion, '3');
    assert.equal((await s.get(key('a', 'one')))?.spec.replicas, 3);

    const deleted = await s.delete(key('a', 'one'), 3);
    assert.equal(deleted.metadata.resourceVersion, '4', 'a deletion returns the last state at the deletion revision');
    assert.equal(deleted.spec.replicas, 3);
    assert.equal(await s.get(key('a', 'one')), undefined);
    assert.deepEqual((await s.list(PREFIX)).items.map((o) => o.metadata.name), ['two']);
    assert.equal(s.currentRevision(), 4);

    const recreated = await s.create(key('a', 'one'), database('a', 'one'));
    assert.equal(recreated.metadata.resourceVersion, '5');
    await s.close();
  });

  describe('refuses writes that do not fit the stored state', () => {
    const cases: { name: string; code: StorageErrorCode; act: (s: SqliteStorage) => Promise<unknown> }[] = [
      { name: 'create of a live key', code: 'AlreadyExists', act: (s) => s.create(key('a', 'x'), database('a', 'x')) },
      { name: 'update at a stale revision', code: 'Conflict', act: (s) => s.update(key('a', 'x'), database('a', 'x'), 1) },
      { name: 'delete at a stale revision', code: 'Conflict', act: (s) => s.delete(key('a', 'x'), 1) },
      { name: 'update of a missing key', code: 'NotFound', act: (s) => s.update(key('a', 'nope'), database('a', 'nope'), 2) },
      { name: 'delete of a missing key', code: 'NotFound', act: (s) => s.delete(key('a', 'nope'), 2) },
      { name: 'update of a deleted key', code: 'NotFound', act: (s) => s.update(key('a', 'gone'), database('a', 'gone'), 3) },
      { name: 'list above the newest revision', code: 'TooLargeResourceVersion', act: (s) => s.list(PREFIX, { revision: 5 }) },
    ];
    for (const c of cases) {
      it(`${c.name}: ${c.code}`, async () => {
        const s = SqliteStorage.open(':memory:');
        await s.create(key('a', 'x'), database('a', 'x')); // 1
        await s.update(key('a', 'x'), database('a', 'x', 2), 1); // 2
        await s.create(key('a', 'gone'), database('a', 'gone')); // 3
        await s.delete(key('a', 'gone'), 3); // 4
        await rejectsWith(c.act(s), c.code);
        assert.equal(s.currentRevision(), 4, 'a refused write takes no revision');
        assert.equal((await s.get(key('a', 'x')))?.spec.replicas, 2);
        await s.close();
      });
    }
  });

  it('lets one of several writes queued together fail without failing the others', async () => {
    const s = SqliteStorage.open(':memory:');
    const results = await Promise.allSettled([
      s.create(key('a', 'x'), database('a', 'x')),
      s.create(key('a', 'x'), database('a', 'x')),
      s.create(key('a', 'y'), database('a', 'y')),
      s.update(key('a', 'x'), database('a', 'x', 5), 1),
    ]);
    assert.deepEqual(
      results.map((r) => (r.status === 'fulfilled' ? rv(r.value) : (r.reason as StorageError).code)),
      [1, 'AlreadyExists', 2, 3],
    );
    assert.equal((await s.get(key('a', 'x')))?.spec.replicas, 5);
    await s.close();
  });

  it('gives one of two connections racing on a key a Conflict', async () => {
    const file = tempFile();
    const first = SqliteStorage.open(file);
    const second = SqliteStorage.open(file);
    const base = await first.create(key('a', 'x'), database('a', 'x'));
    const results = await Promise.allSettled([
      first.update(key('a', 'x'), database('a', 'x', 2), rv(base)),
      second.update(key('a', 'x'), database('a', 'x', 3), rv(base)),
    ]);
    assert.deepEqual(
      results.map((r) => r.status === 'fulfilled' ? 'ok' : (r.reason as StorageError).code),
      ['ok', 'Conflict'],
    );
    await first.close();
    await second.close();
  });

  describe('lists the state as of an older revision', async () => {
    const s = SqliteStorage.open(':memory:');
    await s.create(key('a', 'x'), database('a', 'x', 1)); // 1
    await s.create(key('a', 'y'), database('a', 'y', 1)); // 2
    await s.update(key('a', 'x'), database('a', 'x', 2), 1); // 3
    await s.delete(key('a', 'y'), 2); // 4
    await s.create(key('a', 'y'), database('a', 'y', 7)); // 5
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
        const list = await s.list(PREFIX, { revision });
        assert.equal(list.revision, revision);
        assert.deepEqual(
          list.items.map((o) => `${o.metadata.name}:${o.spec.replicas}@${o.metadata.resourceVersion}`),
          expected,
        );
      });
    }
    after(() => s.close());
  });

  it('treats a prefix as a directory, so /a/b never matches /a/bc', WAITS, async () => {
    const s = SqliteStorage.open(':memory:');
    for (const k of ['/a/b/x', '/a/bc/y', '/a/b', '/a/b0', '/a/a/z']) await s.create(k, database('', k));
    const names = async (prefix: string) => (await s.list(prefix)).items.map((o) => o.metadata.name);
    assert.deepEqual(await names('/a/b'), ['/a/b/x']);
    assert.deepEqual(await names('/a/b/'), ['/a/b/x']);
    assert.deepEqual(await names('/a/'), ['/a/a/z', '/a/b', '/a/b/x', '/a/b0', '/a/bc/y']);
    assert.deepEqual((await s.list('/a/b', { revision: 3 })).items.map((o) => o.metadata.name), ['/a/b/x']);
    const watched = collect(s, '/a/b', 0);
    await watched.until(1);
    await s.update('/a/bc/y', database('', '/a/bc/y', 2), 2);
    await s.update('/a/b/x', database('', '/a/b/x', 2), 1);
    await watched.until(2);
    assert.deepEqual(watched.events.map((e) => e.key), ['/a/b/x', '/a/b/x']);
    await s.close();
  });

  describe('watch', () => {
    it('replays history, then delivers live writes, including writes made during the replay', WAITS, async () => {
      const s = SqliteStorage.open(':memory:', { replayBatchSize: 2 });
      for (let i = 0; i < 5; i++) await s.create(key('a', `h${i}`), database('a', `h${i}`));
      let wroteDuringReplay = false;
      const watched = collect(s, PREFIX, 0, (event) => {
        // Writes made while the replay is under way: the history read has not reached them yet.
        if (event.revision === 1) {
          wroteDuringReplay = true;
          void s.create(key('a', 'during-1'), database('a', 'during-1'));
          void s.create(key('a', 'during-2'), database('a', 'during-2'));
        }
      });
      // Written after watch() returned but before the replay began.
      await s.create(key('a', 'before-replay'), database('a', 'before-replay'));
      await watched.until(8);
      await s.update(key('a', 'h0'), database('a', 'h0', 2), 1);
      await s.delete(key('a', 'h1'), 2);
      await watched.until(10);
      await settle();
      assert.ok(wroteDuringReplay);
      assert.deepEqual(summary(watched.events), [
        '1 ADDED a/h0',
        '2 ADDED a/h1',
        '3 ADDED a/h2',
        '4 ADDED a/h3',
        '5 ADDED a/h4',
        '6 ADDED a/before-replay',
        '7 ADDED a/during-1',
        '8 ADDED a/during-2',
        '9 MODIFIED a/h0',
        '10 DELETED a/h1',
      ]);
      await s.close();
    });

    it('carries the previous state on MODIFIED and DELETED, live and replayed', WAITS, async () => {
      const s = SqliteStorage.open(':memory:');
      const live = collect(s, PREFIX, 0);
      await s.create(key('a', 'x'), database('a', 'x', 1));
      await s.update(key('a', 'x'), database('a', 'x', 2), 1);
      await s.delete(key('a', 'x'), 2);
      const replayed = collect(s, PREFIX, 0);
      for (const events of [await live.until(3), await replayed.until(3)]) {
        const [added, modified, deleted] = events;
        assert.equal(added.prevObject, undefined);
        assert.equal(modified.object.spec.replicas, 2);
        assert.equal(modified.prevObject?.spec.replicas, 1);
        assert.equal(modified.prevObject?.metadata.resourceVersion, '1');
        assert.equal(deleted.object.metadata.resourceVersion, '3', 'the deleted object carries the deletion revision');
        assert.equal(deleted.prevObject?.metadata.resourceVersion, '2');
      }
      await s.close();
    });

    it('starts after fromRevision and waits for a revision not reached yet', WAITS, async () => {
      const s = SqliteStorage.open(':memory:');
      for (let i = 0; i < 4; i++) await s.create(key('a', `o${i}`), database('a', `o${i}`));
      const fromTwo = collect(s, PREFIX, 2);
      const future = collect(s, PREFIX, 5);
      await s.create(key('a', 'o4'), database('a', 'o4'));
      await s.create(key('a', 'o5'), database('a', 'o5'));
      assert.deepEqual(summary(await fromTwo.until(4)), ['3 ADDED a/o2', '4 ADDED a/o3', '5 ADDED a/o4', '6 ADDED a/o5']);
      assert.deepEqual(summary(await future.until(1)), ['6 ADDED a/o5']);
      await s.close();
    });

    it('keeps delivering to the other watchers when a callback throws, and reports the failure', WAITS, async () => {
      const failures: StorageEvent[] = [];
      const s = SqliteStorage.open(':memory:', { onWatchError: (_error, event) => failures.push(event) });
      s.watch(PREFIX, 0, () => {
        throw new Error('broken consumer');
      });
      const healthy = collect(s, PREFIX, 0);
      await s.create(key('a', 'x'), database('a', 'x'));
      await s.create(key('a', 'y'), database('a', 'y'));
      assert.equal((await healthy.until(2)).length, 2);
      assert.equal(failures.length, 2);
      await s.close();
    });

    it('keeps revision order for every watcher when a callback writes', WAITS, async () => {
      const s = SqliteStorage.open(':memory:');
      collect(s, PREFIX, 0, (event) => {
        if (event.key === key('a', 'x') && event.type === 'ADDED') void s.create(key('a', 'echo'), database('a', 'echo'));
      });
      const other = collect(s, PREFIX, 0);
      await Promise.all([s.create(key('a', 'x'), database('a', 'x')), s.create(key('a', 'y'), database('a', 'y'))]);
      assert.deepEqual(summary(await other.until(3)), ['1 ADDED a/x', '2 ADDED a/y', '3 ADDED a/echo']);
      await s.close();
    });

    it('stops delivering once stopped', async () => {
      const s = SqliteStorage.open(':memory:');
      const watched = collect(s, PREFIX, 0);
      await s.create(key('a', 'x'), database('a', 'x'));
      watched.watcher.stop();
      await s.create(key('a', 'y'), database('a', 'y'));
      await settle();
      assert.deepEqual(summary(watched.events), ['1 ADDED a/x']);
      await s.close();
    });
  });

  describe('compaction', () => {
    async function history(s: SqliteStorage): Promise<void> {
      await s.create(key('a', 'x'), database('a', 'x', 1)); // 1
      await s.create(key('a', 'y'), database('a', 'y', 1)); // 2
      await s.update(key('a', 'x'), database('a', 'x', 2), 1); // 3
      await s.delete(key('a', 'y'), 2); // 4
      await s.update(key('a', 'x'), database('a', 'x', 3), 3); // 5
      await s.create(key('a', 'z'), database('a', 'z', 1)); // 6
    }

    it('answers Expired below the horizon and keeps every state from the horizon on', WAITS, async () => {
      const s = SqliteStorage.open(':memory:');
      await history(s);
      const before = await Promise.all([4, 5, 6].map((revision) => s.list(PREFIX, { revision })));
      await s.compact(4);
      assert.equal(s.compactedRevision(), 4);
      await rejectsWith(s.list(PREFIX, { revision: 3 }), 'Expired');
      assert.throws(() => s.watch(PREFIX, 3, () => {}), (e: unknown) => e instanceof StorageError && e.code === 'Expired');
      assert.deepEqual(await Promise.all([4, 5, 6].map((revision) => s.list(PREFIX, { revision }))), before);
      assert.deepEqual(summary(await collect(s, PREFIX, 4).until(2)), ['5 MODIFIED a/x', '6 ADDED a/z']);
      assert.equal((await collect(s, PREFIX, 4).until(1))[0].prevObject?.metadata.resourceVersion, '3');
      await s.compact(2);
      assert.equal(s.compactedRevision(), 4, 'the horizon never moves back');
      await s.close();
    });

    it('lets a deleted key be created again once its tombstone is compacted', async () => {
      const s = SqliteStorage.open(':memory:');
      await history(s);
      await s.compact(6);
      const again = await s.create(key('a', 'y'), database('a', 'y', 9));
      assert.equal(rv(again), 7);
      assert.deepEqual((await s.list(PREFIX)).items.map((o) => o.metadata.name), ['x', 'y', 'z']);
      await s.close();
    });

    it('waits for a watch still replaying the history it would drop', WAITS, async () => {
      const s = SqliteStorage.open(':memory:', { replayBatchSize: 1 });
      await history(s);
      const watched = collect(s, PREFIX, 0);
      await s.compact(6);
      assert.equal(s.compactedRevision(), 0, 'the replay has delivered nothing yet');
      assert.deepEqual(summary(await watched.until(6)).map((line) => line.split(' ')[0]), ['1', '2', '3', '4', '5', '6']);
      await s.compact(6);
      assert.equal(s.compactedRevision(), 6);
      await s.close();
    });

    it('keeps the horizon across a restart', async () => {
      const file = tempFile();
      const s = SqliteStorage.open(file);
      await history(s);
      await s.compact(5);
      await s.close();
      const reopened = SqliteStorage.open(file);
      assert.equal(reopened.compactedRevision(), 5);
      assert.equal(reopened.currentRevision(), 6);
      await rejectsWith(reopened.list(PREFIX, { revision: 4 }), 'Expired');
      assert.deepEqual((await reopened.list(PREFIX, { revision: 5 })).items.map((o) => o.metadata.name), ['x']);
      await reopened.close();
    });
  });

  it('keeps acknowledged writes across close and reopen', async () => {
    const file = tempFile();
    const s = SqliteStorage.open(file);
    await s.create(key('a', 'x'), database('a', 'x', 1));
    const updated = await s.update(key('a', 'x'), database('a', 'x', 4), 1);
    await s.create(key('b', 'y'), database('b', 'y', 2));
    await s.close();
    const reopened = SqliteStorage.open(file);
    assert.equal(reopened.currentRevision(), 3);
    assert.deepEqual(await reopened.get(key('a', 'x')), updated);
    assert.deepEqual((await reopened.list(PREFIX)).items.map((o) => o.metadata.name), ['x', 'y']);
    const next = await reopened.update(key('a', 'x'), database('a', 'x', 5), 2);
    assert.equal(rv(next), 4, 'revisions continue where they stopped');
    await reopened.close();
  });

  it('refuses calls once closed', async () => {
    const s = SqliteStorage.open(':memory:');
    await s.close();
    await rejectsWith(s.get(key('a', 'x')), 'Unavailable');
    await rejectsWith(s.create(key('a', 'x'), database('a', 'x')), 'Unavailable');
  });
});
