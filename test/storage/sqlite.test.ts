import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { StorageError } from '../../src/storage/interface.ts';
import { SqliteStorage } from '../../src/storage/sqlite.ts';
import { collect, database, key, PREFIX, rv, settle, summary } from './helpers.ts';
import { storageSuite, WAITS } from './suite.ts';

const tmp = mkdtempSync(join(tmpdir(), 'strongroom-sqlite-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
let files = 0;
const tempFile = () => join(tmp, `store-${files++}.db`);

storageSuite('SqliteStorage', {
  open: async (options) => SqliteStorage.open(':memory:', options),
  shared: () => {
    const file = tempFile();
    return async () => SqliteStorage.open(file);
  },
});

describe('SqliteStorage', () => {
  it('numbers revisions from 1', async () => {
    const s = SqliteStorage.open(':memory:');
    assert.equal(s.currentRevision(), 0);
    assert.equal(rv(await s.create(key('a', 'x'), database('a', 'x'))), 1);
    await s.close();
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

  describe('watch', () => {
    it('replays history in batches, then delivers live writes, including writes made during the replay', WAITS, async () => {
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
  });

  it('waits, when compacting, for a watch still replaying the history it would drop', WAITS, async () => {
    const s = SqliteStorage.open(':memory:', { replayBatchSize: 1 });
    await s.create(key('a', 'x'), database('a', 'x', 1)); // 1
    await s.create(key('a', 'y'), database('a', 'y', 1)); // 2
    await s.update(key('a', 'x'), database('a', 'x', 2), 1); // 3
    await s.delete(key('a', 'y'), 2); // 4
    const watched = collect(s, PREFIX, 0);
    await s.compact(4);
    assert.equal(s.compactedRevision(), 0, 'the replay has delivered nothing yet');
    assert.deepEqual(summary(await watched.until(4)).map((line) => line.split(' ')[0]), ['1', '2', '3', '4']);
    await s.compact(4);
    assert.equal(s.compactedRevision(), 4);
    await s.close();
  });
});
