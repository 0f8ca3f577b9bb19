import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeObject } from '../../src/api/meta.ts';
import { WatchCache, type WatchCacheOptions } from '../../src/storage/cache.ts';
import {
  StorageError,
  type ListOptions,
  type ListResult,
  type Storage,
  type StorageErrorCode,
  type StorageEvent,
  type Watcher,
} from '../../src/storage/interface.ts';
import { SqliteStorage } from '../../src/storage/sqlite.ts';
import type { FallibleWatchStorage, WatchFailureHandler } from '../../src/storage/watch.ts';
import { collect, database, key, PREFIX, rv, settle, summary } from './helpers.ts';

const WAITS = { timeout: 5_000 };

/**
 * A backend that counts reads, can hold its first list, can deliver watch events late (as etcd does), and can break
 * its newest watch as etcd breaks one whose history is compacted under it.
 */
class Backend implements FallibleWatchStorage {
  readonly inner = SqliteStorage.open(':memory:');
  lists = 0;
  gets = 0;
  listGate: Promise<void> | undefined;
  lateEvents = false;
  /** Lists without keys, as a backend that cannot name them would. */
  keyless = false;
  /** Lists that fail with Unavailable before one succeeds. */
  failingLists = 0;
  private newestWatch: { watcher: Watcher; onFailure?: WatchFailureHandler } | undefined;

  currentRevision(): number {
    return this.inner.currentRevision();
  }
  compactedRevision(): number {
    return this.inner.compactedRevision();
  }
  async get(k: string): Promise<KubeObject | undefined> {
    this.gets++;
    return this.inner.get(k);
  }
  async list(prefix: string, options?: ListOptions): Promise<ListResult & { keys?: string[] }> {
    this.lists++;
    if (this.failingLists > 0 && this.failingLists--) throw new StorageError('Unavailable', prefix, 'down for a moment');
    const { keys, ...result } = await this.inner.list(prefix, options);
    await this.listGate;
    return this.keyless ? result : { keys, ...result };
  }
  create(k: string, obj: KubeObject): Promise<KubeObject> {
    return this.inner.create(k, obj);
  }
  update(k: string, obj: KubeObject, expected: number): Promise<KubeObject> {
    return this.inner.update(k, obj, expected);
  }
  delete(k: string, expected: number): Promise<KubeObject> {
    return this.inner.delete(k, expected);
  }
  watch(prefix: string, from: number, onEvent: (event: StorageEvent) => void, onFailure?: WatchFailureHandler): Watcher {
    const watcher = this.inner.watch(prefix, from, (event) => (this.lateEvents ? void settle(3).then(() => onEvent(event)) : onEvent(event)));
    this.newestWatch = { watcher, onFailure };
    return watcher;
  }
  /** Stops the newest watch, runs `meanwhile` (whose writes it misses), then fails the watch with Expired. */
  async breakWatch(meanwhile: () => Promise<void>): Promise<void> {
    const broken = this.newestWatch!;
    broken.watcher.stop();
    await meanwhile();
    broken.onFailure?.(new StorageError('Expired', PREFIX, 'history compacted under the watch'));
  }
  compact(revision: number): Promise<void> {
    return this.inner.compact(revision);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

async function started(options: WatchCacheOptions = {}, seed = 0): Promise<{ backend: Backend; cache: WatchCache }> {
  const backend = new Backend();
  for (let i = 0; i < seed; i++) await backend.create(key(`ns${i % 2}`, `db${i}`), database(`ns${i % 2}`, `db${i}`));
  const cache = new WatchCache(backend, { prefix: PREFIX, ...options });
  await cache.ready;
  backend.lists = 0;
  return { backend, cache };
}

const isCode = (code: StorageErrorCode) => (error: unknown) => error instanceof StorageError && error.code === code;
const names = (items: readonly KubeObject[]) => items.map((o) => `${o.metadata.namespace}/${o.metadata.name}`);

describe('WatchCache', () => {
  it('answers Unavailable until the initial list is loaded', async () => {
    const backend = new Backend();
    await backend.create(key('ns0', 'db0'), database('ns0', 'db0'));
    let open!: () => void;
    backend.listGate = new Promise((resolve) => (open = resolve));
    const cache = new WatchCache(backend, { prefix: PREFIX });
    assert.equal(cache.isReady(), false);
    await assert.rejects(cache.get(key('ns0', 'db0')), isCode('Unavailable'));
    await assert.rejects(cache.create(key('ns0', 'db1'), database('ns0', 'db1')), isCode('Unavailable'));
    assert.throws(() => cache.watch(PREFIX, 0, () => {}), isCode('Unavailable'));
    open();
    await cache.ready;
    assert.equal(cache.isReady(), true);
    assert.equal((await cache.get(key('ns0', 'db0')))?.metadata.name, 'db0');
    assert.equal(cache.currentRevision(), 1);
    await cache.close();
  });

  describe('loads its initial list under the keys the backend stores', () => {
    const cases = [
      { name: 'keys listed by the backend, several resources under /', prefix: '/', keyless: false },
      { name: 'keys derived from the objects, one resource', prefix: PREFIX, keyless: true },
    ];
    for (const c of cases) {
      it(c.name, async () => {
        const backend = new Backend();
        backend.keyless = c.keyless;
        const backup = '/strongroom.dev/backups/ns0/b0';
        await backend.create(key('ns0', 'db0'), database('ns0', 'db0'));
        await backend.create(backup, database('ns0', 'b0'));
        const cache = new WatchCache(backend, { prefix: c.prefix });
        await cache.ready;
        await cache.update(key('ns0', 'db0'), database('ns0', 'db0', 2), 1);
        assert.deepEqual(
          (await cache.list(PREFIX)).items.map((o) => `${o.metadata.name}:${o.spec.replicas}`),
          ['db0:2'],
          'the update replaced the loaded object instead of adding a second one',
        );
        assert.equal((await cache.list('/strongroom.dev/')).items.length, 2);
        await cache.close();
      });
    }
  });

  it('serves gets and lists at the newest revision from memory, equal to the backend', async () => {
    const { backend, cache } = await started({}, 6);
    for (const prefix of [PREFIX, `${PREFIX}ns0/`, `${PREFIX}ns1`, `${PREFIX}none/`]) {
      const { items, revision } = await backend.inner.list(prefix);
      assert.deepEqual(await cache.list(prefix), { items, revision }, prefix);
    }
    assert.deepEqual(await cache.get(key('ns1', 'db3')), await backend.inner.get(key('ns1', 'db3')));
    assert.equal(await cache.get(key('ns1', 'nope')), undefined);
    assert.equal(backend.lists + backend.gets, 0);
    await cache.close();
  });

  it('hands out frozen objects that callers cannot corrupt', async () => {
    const { cache } = await started({}, 1);
    const obj = (await cache.get(key('ns0', 'db0'))) as KubeObject;
    assert.throws(() => {
      obj.spec.replicas = 9;
    }, TypeError);
    assert.throws(() => {
      (obj.metadata.labels as Record<string, string>).app = 'x';
    }, TypeError);
    await cache.close();
  });

  it('has every write reflected in memory when the write resolves, even if the backend reports it late', WAITS, async () => {
    const { backend, cache } = await started({}, 1);
    backend.lateEvents = true;
    const created = await cache.create(key('ns0', 'new'), database('ns0', 'new'));
    assert.deepEqual(await cache.get(key('ns0', 'new')), created);
    const updated = await cache.update(key('ns0', 'new'), database('ns0', 'new', 5), rv(created));
    assert.equal((await cache.get(key('ns0', 'new')))?.spec.replicas, 5);
    assert.equal(cache.currentRevision(), rv(updated));
    await cache.delete(key('ns0', 'new'), rv(updated));
    assert.equal(await cache.get(key('ns0', 'new')), undefined);
    assert.deepEqual(names((await cache.list(PREFIX)).items), ['ns0/db0']);
    await cache.close();
  });

  it('passes the backend errors of writes through', async () => {
    const { cache } = await started({}, 1);
    await assert.rejects(cache.create(key('ns0', 'db0'), database('ns0', 'db0')), isCode('AlreadyExists'));
    await assert.rejects(cache.update(key('ns0', 'db0'), database('ns0', 'db0'), 7), isCode('Conflict'));
    await assert.rejects(cache.delete(key('ns0', 'zz'), 1), isCode('NotFound'));
    await cache.close();
  });

  describe('sorted lists', () => {
    it('hands out the same arrays while nothing changes, and never changes a list handed out', async () => {
      const { cache } = await started({}, 4);
      const first = cache.listSorted(PREFIX);
      assert.ok(first);
      assert.equal(cache.listSorted(PREFIX)?.items, first.items, 'no copy while unchanged');
      assert.deepEqual(first.keys, first.items.map((o) => key(o.metadata.namespace as string, o.metadata.name as string)));
      const before = names(first.items);
      const db1 = await cache.get(key('ns1', 'db1'));
      await cache.update(key('ns1', 'db1'), database('ns1', 'db1', 3), rv(db1));
      await cache.create(key('ns0', 'a'), database('ns0', 'a'));
      assert.deepEqual(names(first.items), before);
      assert.equal(first.items.find((o) => o.metadata.name === 'db1')?.spec.replicas, 1);
      const second = cache.listSorted(PREFIX);
      assert.deepEqual(names(second?.items ?? []), ['ns0/a', 'ns0/db0', 'ns0/db2', 'ns1/db1', 'ns1/db3']);
      assert.deepEqual(names(cache.listSorted(`${PREFIX}ns1`)?.items ?? []), ['ns1/db1', 'ns1/db3']);
      await cache.close();
    });

    it('serves a page at a revision handed out recently from memory, and older ones from the backend', async () => {
      const { backend, cache } = await started({ snapshots: 1 }, 2);
      const atTwo = cache.listSorted(PREFIX);
      assert.equal(atTwo?.revision, 2);
      await cache.create(key('ns0', 'late'), database('ns0', 'late'));
      assert.deepEqual(names(cache.listSorted(PREFIX, 2)?.items ?? []), ['ns0/db0', 'ns1/db1']);
      assert.deepEqual(names((await cache.list(PREFIX, { revision: 2 })).items), ['ns0/db0', 'ns1/db1']);
      assert.equal(backend.lists, 0);

      cache.listSorted(PREFIX); // revision 3 takes the only snapshot slot
      assert.equal(cache.listSorted(PREFIX, 2), undefined);
      assert.deepEqual(names((await cache.list(PREFIX, { revision: 1 })).items), ['ns0/db0']);
      assert.equal(backend.lists, 1);
      await assert.rejects(cache.list(PREFIX, { revision: 9 }), isCode('TooLargeResourceVersion'));
      await cache.close();
    });
  });

  describe('watch', () => {
    it('replays buffered events after fromRevision, then live ones, filtered by prefix', WAITS, async () => {
      const { cache } = await started({}, 2);
      await cache.create(key('ns0', 'a'), database('ns0', 'a')); // 3
      await cache.create(key('ns1', 'b'), database('ns1', 'b')); // 4
      await cache.create(key('ns0', 'c'), database('ns0', 'c')); // 5
      const ns0 = collect(cache, `${PREFIX}ns0`, 2);
      const all = collect(cache, PREFIX, 3);
      const a = await cache.get(key('ns0', 'a'));
      await cache.update(key('ns0', 'a'), database('ns0', 'a', 2), rv(a)); // 6
      await cache.create(key('ns1', 'd'), database('ns1', 'd')); // 7
      assert.deepEqual(summary(await ns0.until(3)), ['3 ADDED ns0/a', '5 ADDED ns0/c', '6 MODIFIED ns0/a']);
      assert.deepEqual(summary(await all.until(4)), ['4 ADDED ns1/b', '5 ADDED ns0/c', '6 MODIFIED ns0/a', '7 ADDED ns1/d']);
      await settle();
      assert.equal(ns0.events.length, 3);
      assert.equal(all.events.length, 4);
      await cache.close();
    });

    it('falls back to the backend history before its ring, and answers Expired once that is compacted', WAITS, async () => {
      const { backend, cache } = await started({ capacity: 2 }, 1);
      for (const name of ['a', 'b', 'c', 'd']) await cache.create(key('ns0', name), database('ns0', name)); // 2..5
      const old = collect(cache, PREFIX, 1);
      assert.deepEqual(summary(await old.until(4)), ['2 ADDED ns0/a', '3 ADDED ns0/b', '4 ADDED ns0/c', '5 ADDED ns0/d']);
      await cache.create(key('ns0', 'e'), database('ns0', 'e')); // 6
      assert.deepEqual(summary(await old.until(5)).at(-1), '6 ADDED ns0/e');
      old.watcher.stop();

      await backend.compact(4);
      assert.throws(() => cache.watch(PREFIX, 2, () => {}), isCode('Expired'));
      const buffered = collect(cache, PREFIX, 4); // the ring still holds 5 and 6
      assert.deepEqual(summary(await buffered.until(2)), ['5 ADDED ns0/d', '6 ADDED ns0/e']);
      await cache.close();
    });

    it('fans out to many watchers by prefix, and a throwing watcher does not stop the others', WAITS, async () => {
      const failures: unknown[] = [];
      const { cache } = await started({ onWatchError: (error) => failures.push(error) });
      const counts = new Map<string, number>();
      for (let w = 0; w < 1000; w++) {
        const ns = `ns${w % 10}`;
        cache.watch(`${PREFIX}${ns}/`, 0, () => counts.set(ns, (counts.get(ns) ?? 0) + 1));
      }
      cache.watch(PREFIX, 0, () => {
        throw new Error('broken consumer');
      });
      const all = collect(cache, PREFIX, 0);
      await cache.create(key('ns3', 'x'), database('ns3', 'x'));
      await cache.create(key('ns7', 'y'), database('ns7', 'y'));
      await all.until(2);
      assert.deepEqual(Object.fromEntries(counts), { ns3: 100, ns7: 100 });
      assert.equal(failures.length, 2);
      await cache.close();
    });

    it('stops every watcher on close', WAITS, async () => {
      const { backend, cache } = await started();
      const watched = collect(cache, PREFIX, 0);
      await cache.close();
      await backend.create(key('ns0', 'after'), database('ns0', 'after'));
      await settle();
      assert.equal(watched.events.length, 0);
      await assert.rejects(cache.get(key('ns0', 'after')), isCode('Unavailable'));
    });
  });

  it('lists again when the backend watch breaks, and hands its watchers the difference', WAITS, async () => {
    const failures: unknown[] = [];
    const { backend, cache } = await started({ onResyncError: (error) => failures.push(error) }, 4); // 1..4
    const watched = collect(cache, PREFIX, 4);
    const ns1 = collect(cache, `${PREFIX}ns1/`, 4);
    backend.failingLists = 1;
    await backend.breakWatch(async () => {
      await backend.inner.update(key('ns0', 'db0'), database('ns0', 'db0', 2), 1); // 5
      await backend.inner.delete(key('ns1', 'db1'), 2); // 6
      await backend.inner.create(key('ns0', 'db4'), database('ns0', 'db4')); // 7
      await backend.inner.delete(key('ns1', 'db3'), 4); // 8
    });
    const events = await watched.until(4);
    assert.deepEqual(summary(events), ['5 MODIFIED ns0/db0', '6 DELETED ns1/db1', '7 ADDED ns0/db4', '8 DELETED ns1/db3']);
    assert.equal(events[0].prevObject?.spec.replicas, 1);
    assert.deepEqual([events[1].object.metadata.resourceVersion, events[1].prevObject?.metadata.resourceVersion], ['6', '2']);
    assert.deepEqual(summary(await ns1.until(2)), ['6 DELETED ns1/db1', '8 DELETED ns1/db3']);
    const { items, revision } = await backend.inner.list(PREFIX);
    assert.deepEqual(await cache.list(PREFIX), { items, revision });
    assert.deepEqual(
      failures.map((error) => (error as StorageError).code),
      ['Expired', 'Unavailable'],
      'the break, then the relist that failed',
    );
    // Following the backend again: a write resolves once its event is in, and every watcher gets it.
    await cache.create(key('ns0', 'db5'), database('ns0', 'db5'));
    assert.deepEqual(summary(await watched.until(5)).at(-1), '9 ADDED ns0/db5');
    await cache.close();
  });

  it('passes keys outside its prefix through to the backend', async () => {
    const { backend, cache } = await started({}, 1);
    const other = '/strongroom.dev/backups/ns0/b1';
    await cache.create(other, database('ns0', 'b1'));
    assert.equal((await cache.get(other))?.metadata.name, 'b1');
    assert.equal(backend.gets, 1);
    assert.deepEqual(names((await cache.list('/strongroom.dev/backups/')).items), ['ns0/b1']);
    assert.equal(backend.lists, 1);
    await cache.close();
  });
});
