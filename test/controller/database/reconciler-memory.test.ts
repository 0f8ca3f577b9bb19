// The Database reconciler, table-driven, without a control plane: our own objects in a real registry over SQLite, the
// cluster an in-memory stand-in (../memorycluster.ts). The cluster suite (reconciler.test.ts) is the end-to-end test.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import type { Backup } from '../../../src/api/backup.ts';
import type { Database } from '../../../src/api/database.ts';
import { resources } from '../../../src/api/resources.ts';
import { DATABASE_FINALIZER, DatabaseReconciler } from '../../../src/controller/database/reconciler.ts';
import { EventRecorder } from '../../../src/controller/events.ts';
import { ImageCatalogSource } from '../../../src/controller/images.ts';
import { OwnObjects } from '../../../src/controller/ownobjects.ts';
import { ObjectCache } from '../../../src/controller/runtime/cache.ts';
import { parseImageCatalog } from '../../../src/engines/catalog.ts';
import { Registry } from '../../../src/registry/registry.ts';
import { WatchCache } from '../../../src/storage/cache.ts';
import { SqliteStorage } from '../../../src/storage/sqlite.ts';
import { MemoryCluster } from '../memorycluster.ts';

const NS = 'shop';
let dir: string;
let backend: SqliteStorage;
let storage: WatchCache;
let registry: Registry;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'strongroom-reconciler-'));
  backend = SqliteStorage.open(join(dir, 'strongroom.db'));
  storage = new WatchCache(backend);
  await storage.ready;
  registry = new Registry(resources, storage);
});
after(async () => {
  await storage.close?.();
  backend.close?.();
  rmSync(dir, { recursive: true, force: true });
});

let counter = 0;
function setup(images?: ImageCatalogSource) {
  const cluster = new MemoryCluster();
  const databases = new OwnObjects<Database>(registry.store('databases')!);
  const reconciler = new DatabaseReconciler({
    databases,
    backups: new OwnObjects<Backup>(registry.store('backups')!),
    backupCache: new ObjectCache<Backup>(),
    client: cluster,
    informers: cluster.informers,
    events: new EventRecorder({ client: cluster, instance: 'test', logger: pino({ level: 'silent' }) }),
    generatePassword: () => `password${++counter}`,
    ...(images ? { images } : {}),
  });
  const reconcile = (name: string) => reconciler.reconcile({ namespace: NS, name }, new AbortController().signal);
  const create = (name: string, spec: Partial<Database['spec']>) =>
    databases.create({ apiVersion: 'strongroom.dev/v1alpha1', kind: 'Database', metadata: { name, namespace: NS }, spec: { engine: 'postgres', ...spec } as Database['spec'] });
  return { cluster, databases, reconcile, create };
}

const sts = (cluster: MemoryCluster, name: string): any => cluster.find('StatefulSet', name);
const images = (cluster: MemoryCluster, name: string) => {
  const spec = sts(cluster, name).spec.template.spec;
  return [...new Set([...(spec.initContainers ?? []), ...spec.containers].map((c: any) => c.image))];
};

describe('the Database reconciler on an in-memory cluster', () => {
  const engines: [string, Partial<Database['spec']>, string[]][] = [
    ['postgres', { engine: 'postgres' }, ['pg-config']],
    ['redis', { engine: 'redis' }, ['rd-config']],
    ['etcd', { engine: 'etcd' }, ['kv-cluster', 'kv-config']],
  ];
  for (const [engine, spec, configMaps] of engines) {
    it(`${engine}: adds the finalizer, creates the passwords once and applies every child`, async () => {
      const name = { postgres: 'pg', redis: 'rd', etcd: 'kv' }[engine]!;
      const { cluster, databases, reconcile, create } = setup();
      await create(name, spec);
      await reconcile(name);
      const db = (await databases.get(NS, name))!;
      assert.deepEqual(db.metadata.finalizers, [DATABASE_FINALIZER]);
      assert.equal(db.status?.phase, 'Provisioning');
      assert.equal(db.status?.connectionSecret, `${name}-connection`);
      assert.deepEqual(cluster.names('ConfigMap'), configMaps);
      assert.deepEqual(cluster.names('Secret'), [`${name}-connection`, `${name}-credentials`]);
      assert.ok(sts(cluster, name), 'a StatefulSet');
      assert.equal(cluster.writes.filter((w) => w.method === 'POST' && w.kind === 'Secret').length, 1, 'the credentials are created with POST');

      const password = cluster.find('Secret', `${name}-credentials`)!.data;
      await reconcile(name);
      assert.equal(cluster.writes.filter((w) => w.method === 'POST' && w.kind === 'Secret').length, 1, 'and only once');
      assert.deepEqual(cluster.find('Secret', `${name}-credentials`)!.data, password, 'the passwords stay');
    });
  }

  it('writes nothing but the status while paused', async () => {
    const { cluster, databases, reconcile, create } = setup();
    await create('still', { paused: true });
    await reconcile('still');
    assert.deepEqual(cluster.writes.filter((w) => w.kind !== 'Event'), []);
    assert.equal((await databases.get(NS, 'still'))!.status?.phase, 'Paused');
  });

  const imageCases: [string, Partial<Database['spec']>, string | undefined, string][] = [
    ['the official image without a catalog', { version: '16' }, undefined, 'docker.io/library/postgres:16'],
    ['the catalog image of the version', { version: '16.4' }, 'engines: {postgres: {"16": "mirror.example/postgres:16.10"}}', 'mirror.example/postgres:16.10'],
    ['spec.image over the catalog', { version: '16', image: 'team.example/pg:16-custom' }, 'engines: {postgres: {"16": "mirror.example/postgres:16.10"}}', 'team.example/pg:16-custom'],
  ];
  for (const [title, spec, catalog, expected] of imageCases) {
    it(`runs ${title} in every container`, async () => {
      const source = new ImageCatalogSource(catalog ? { file: parseImageCatalog(catalog, 'test') } : {});
      const { cluster, reconcile, create } = setup(source);
      const name = `img-${++counter}`;
      await create(name, spec);
      await reconcile(name);
      assert.deepEqual(images(cluster, name), [expected]);
    });
  }

  it('with deletionPolicy Delete: removes the finalizer, and the Database goes', async () => {
    const { databases, reconcile, create } = setup();
    await create('gone', { deletionPolicy: 'Delete' });
    await reconcile('gone');
    await databases.delete((await databases.get(NS, 'gone'))!);
    assert.ok((await databases.get(NS, 'gone'))?.metadata.deletionTimestamp, 'held by the finalizer');
    await reconcile('gone');
    assert.equal(await databases.get(NS, 'gone'), undefined);
  });
});
