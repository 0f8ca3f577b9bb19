import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { KubeObject } from '../../../src/api/meta.ts';
import { StoreInformer } from '../../../src/controller/runtime/ownwatch.ts';
import { WatchCache } from '../../../src/storage/cache.ts';
import { StorageError, type ListOptions, type ListResult, type Storage, type StorageEvent, type Watcher } from '../../../src/storage/interface.ts';
import { SqliteStorage } from '../../../src/storage/sqlite.ts';
import { database, key, PREFIX } from '../../storage/helpers.ts';
import { settle } from './fakeclock.ts';

/** Storage as the API server has it (a watch cache over SQLite), with faults a test can arm. */
class FaultyStorage implements Storage {
  readonly backend = SqliteStorage.open(':memory:');
  readonly inner = new WatchCache(this.backend, { prefix: '/' });
  lists = 0;
  failLists = 0;
  expireWatches = 0;

  currentRevision(): number {
    return this.inner.currentRevision();
  }
  compactedRevision(): number {
    return this.inner.compactedRevision();
  }
  get(k: string): Promise<KubeObject | undefined> {
    return this.inner.get(k);
  }
  async list(prefix: string, options?: ListOptions): Promise<ListResult> {
    this.lists++;
    if (this.failLists > 0 && this.failLists--) throw new StorageError('Unavailable', prefix, 'the watch cache is still loading');
    return this.inner.list(prefix, options);
  }
  create(k: string, obj: KubeObject): Promise<KubeObject> {
    return this.inner.create(k, obj);
  }
  update(k: string, obj: KubeObject, expectedRevision: number): Promise<KubeObject> {
    return this.inner.update(k, obj, expectedRevision);
  }
  delete(k: string, expectedRevision: number): Promise<KubeObject> {
    return this.inner.delete(k, expectedRevision);
  }
  watch(prefix: string, fromRevision: number, onEvent: (event: StorageEvent) => void): Watcher {
    if (this.expireWatches > 0 && this.expireWatches--) {
      throw new StorageError('Expired', prefix, 'compacted', this.inner.currentRevision());
    }
    return this.inner.watch(prefix, fromRevision, onEvent);
  }
  compact(revision: number): Promise<void> {
    return this.inner.compact(revision);
  }
  async close(): Promise<void> {
    await this.inner.close();
    await this.backend.close();
  }
}

async function until(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 2000 && !check(); i++) await settle(1);
  assert.ok(check(), `timed out waiting until ${what}`);
}

const names = (informer: StoreInformer) => informer.list().map((obj) => `${obj.metadata.namespace}/${obj.metadata.name}`).sort();

describe('StoreInformer', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  async function setup(arm: (storage: FaultyStorage) => void = () => {}) {
    const storage = new FaultyStorage();
    await storage.inner.ready;
    arm(storage);
    const informer = new StoreInformer({ storage, prefix: PREFIX, backoff: { initialMs: 1, maxMs: 1 } });
    cleanup.push(() => storage.close(), () => informer.stop());
    return { storage, informer };
  }

  it('lists what the store holds, then follows every write', async () => {
    const { storage, informer } = await setup();
    await storage.create(key('shop', 'orders'), database('shop', 'orders'));
    await storage.create('/strongroom.dev/backups/shop/nightly', { ...database('shop', 'nightly'), kind: 'Backup' });
    const events: string[] = [];
    informer.addEventHandler({
      add: (obj) => events.push(`add ${obj.metadata.name}`),
      update: (old, obj) => events.push(`update ${old.spec.replicas}->${obj.spec.replicas}`),
      delete: (obj) => events.push(`delete ${obj.metadata.name}`),
    });
    informer.start();
    await informer.waitForSync();
    assert.deepEqual(names(informer), ['shop/orders'], 'only its own prefix');

    const created = await storage.create(key('shop', 'carts'), database('shop', 'carts', 1));
    const updated = await storage.update(key('shop', 'carts'), { ...created, spec: { ...created.spec, replicas: 3 } }, Number(created.metadata.resourceVersion));
    await storage.delete(key('shop', 'orders'), Number((await storage.get(key('shop', 'orders')))!.metadata.resourceVersion));
    await until('the delete arrives', () => events.length === 4);
    assert.deepEqual(events, ['add orders', 'add carts', 'update 1->3', 'delete orders']);
    assert.equal(informer.get('shop', 'carts')?.metadata.resourceVersion, updated.metadata.resourceVersion);
  });

  it('lists again when its watch cannot start from the listed revision (Expired)', async () => {
    const { storage, informer } = await setup((s) => (s.expireWatches = 1));
    await storage.create(key('shop', 'orders'), database('shop', 'orders'));
    informer.start();
    await informer.waitForSync();
    await until('the watch has started', () => storage.lists === 2);
    await storage.create(key('shop', 'carts'), database('shop', 'carts'));
    await until('the new object arrives', () => informer.list().length === 2);
  });

  it('retries while the store is unavailable, and syncs once it answers', async () => {
    const { storage, informer } = await setup((s) => (s.failLists = 3));
    informer.start();
    await informer.waitForSync();
    assert.equal(storage.lists, 4);
  });

  it('hears nothing more after stop', async () => {
    const { storage, informer } = await setup();
    informer.start();
    await informer.waitForSync();
    await informer.stop();
    await storage.create(key('shop', 'late'), database('shop', 'late'));
    await settle();
    assert.deepEqual(names(informer), []);
  });
});
