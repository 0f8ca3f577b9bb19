// The Database controller on the real control plane: kube-apiserver with Strongroom behind its aggregator (the
// controller runs inside the Strongroom process, as the leader), kube-controller-manager (StatefulSet, Job, garbage
// collector and PV binder controllers), and kwok, which makes pods Ready and Job pods Succeed. Volumes are statically
// provisioned PersistentVolumes. Users' steps go through kubectl; the checks read the cluster with a client.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import type { Database } from '../../../src/api/database.ts';
import type { KubeList, KubeObject } from '../../../src/api/meta.ts';
import { findCondition } from '../../../src/controller/conditions.ts';
import { MEMBERS_ANNOTATION } from '../../../src/controller/database/membership.ts';
import { DATABASE_FINALIZER } from '../../../src/controller/database/reconciler.ts';
import { REPORTING_CONTROLLER } from '../../../src/controller/events.ts';
import { KubeConfigClient, isStatusError } from '../../../src/controller/runtime/client.ts';
import { resourcePath, resourceTypeOf, resourceTypes, type ResourceType } from '../../../src/controller/runtime/kinds.ts';
import { kubectl } from '../../cluster/kubectl.ts';
import { startStrongroomCluster, type StrongroomCluster } from '../../cluster/strongroom.ts';
import { provisionPersistentVolumes } from '../../cluster/volumes.ts';

const NS = 'shop';
const DATABASES = resourceTypeOf('strongroom.dev/v1alpha1', 'Database');
const ROLE = 'strongroom.dev/role';

let cluster: StrongroomCluster;
let client: KubeConfigClient;

const get = async <T extends KubeObject = KubeObject>(type: ResourceType, name: string): Promise<T | undefined> => {
  try {
    return await client.request<T>('GET', resourcePath(type, NS, name));
  } catch (err) {
    if (isStatusError(err, 404)) return undefined;
    throw err;
  }
};
const list = async (type: ResourceType, labelSelector: string): Promise<KubeObject[]> =>
  (await client.request<KubeList>('GET', resourcePath(type, NS), { query: { labelSelector } })).items;
const database = (name: string) => get<Database>(DATABASES, name);
const ofDatabase = (name: string) => `strongroom.dev/database=${name}`;
const members = async (name: string) => (await list(resourceTypes.Pod, `${ofDatabase(name)},app.kubernetes.io/component=database`)).filter((p) => !p.metadata.deletionTimestamp);
const claims = async (name: string) => list(resourceTypes.PersistentVolumeClaim, ofDatabase(name));

/** Polls until `check` holds; the control plane converges on its own time, so only the overall bound is fixed. */
async function until<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (err) {
      last = err;
    }
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}${last ? ` (last error: ${String(last)})` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** The Database once it reports Ready for its current generation with `replicas` ready members. */
const ready = (name: string, replicas: number) =>
  until(`${name} is Ready with ${replicas} members`, async () => {
    const db = await database(name);
    const condition = findCondition(db?.status?.conditions, 'Ready');
    return db &&
      db.status?.observedGeneration === db.metadata.generation &&
      condition?.status === 'True' &&
      db.status?.readyReplicas === replicas &&
      (await members(name)).length === replicas
      ? db
      : undefined;
  });

const apply = (manifest: object) => kubectl(cluster.kubeconfig, ['apply', '-n', NS, '-f', '-'], JSON.stringify(manifest));
const createDatabase = (name: string, spec: Record<string, unknown>) =>
  apply({ apiVersion: 'strongroom.dev/v1alpha1', kind: 'Database', metadata: { name }, spec });
const patchSpec = (name: string, spec: Record<string, unknown>) =>
  kubectl(cluster.kubeconfig, ['patch', 'database', name, '-n', NS, '--type', 'merge', '-p', JSON.stringify({ spec })]);
const image = (sts: KubeObject | undefined): string => sts?.spec.template.spec.containers[0].image;

const ENGINES = [
  { engine: 'postgres', name: 'pg', version: '16', minor: '16.4', major: '17', roles: true, init: false },
  { engine: 'redis', name: 'cache', version: '7.2', minor: '7.2.5', major: '7.4', roles: true, init: false },
  { engine: 'etcd', name: 'kv', version: '3.5', minor: '3.5.17', major: '3.6', roles: false, init: true },
] as const;

before(async () => {
  const started = performance.now();
  cluster = await startStrongroomCluster({ nodes: 3 });
  // Each claim takes a volume for good (Retain, and nothing recycles): enough for every member these tests start.
  await provisionPersistentVolumes(cluster.kubeconfig, { count: 40 });
  const kc = new KubeConfig();
  kc.loadFromFile(cluster.kubeconfig);
  client = new KubeConfigClient(kc);
  await kubectl(cluster.kubeconfig, ['create', 'namespace', NS]);
  console.log(`[controller] cluster up in ${((performance.now() - started) / 1000).toFixed(1)} s`);
});

after(() => cluster?.stop());

describe('the Database controller on a real control plane', () => {
  it('turns a Database of each engine into its children, and reports it Ready', async () => {
    await Promise.all(
      ENGINES.map(async (e) => {
        await createDatabase(e.name, { engine: e.engine, version: e.version, deletionPolicy: 'Delete' });
        const db = await ready(e.name, 1);
        assert.deepEqual(db.metadata.finalizers, [DATABASE_FINALIZER]);
        assert.equal(db.status?.phase, 'Ready');
        assert.equal(db.status?.currentVersion, e.version);
        assert.equal(db.status?.connectionSecret, `${e.name}-connection`);
        assert.match(db.status?.endpoints?.primary ?? '', new RegExp(`^${e.name}\\.${NS}\\.svc\\.cluster\\.local:\\d+$`));
        assert.equal(db.status?.selector, `app.kubernetes.io/component=database,app.kubernetes.io/name=${e.engine},strongroom.dev/database=${e.name}`);
        assert.equal(findCondition(db.status?.conditions, 'Progressing')?.reason, 'UpToDate');

        const owned = (obj: KubeObject | undefined, what: string) => {
          assert.ok(obj, `${what} exists`);
          const [ref] = obj.metadata.ownerReferences ?? [];
          assert.deepEqual(ref, { apiVersion: 'strongroom.dev/v1alpha1', kind: 'Database', name: e.name, uid: db.metadata.uid, controller: true, blockOwnerDeletion: true }, `${what} is controlled by the Database`);
          return obj;
        };
        const sts = owned(await get(resourceTypes.StatefulSet, e.name), 'StatefulSet');
        assert.equal(sts.spec.replicas, 1);
        assert.match(image(sts), e.engine === 'etcd' ? /^registry\.k8s\.io\/etcd:3\.5\./ : new RegExp(`:${e.version}$`));
        assert.equal(sts.spec.volumeClaimTemplates[0].metadata.name, 'data');
        owned(await get(resourceTypes.Service, e.name), 'client Service');
        assert.equal(owned(await get(resourceTypes.Service, `${e.name}-headless`), 'headless Service').spec.clusterIP, 'None');
        owned(await get(resourceTypes.Secret, `${e.name}-credentials`), 'credentials Secret');
        owned(await get(resourceTypes.Secret, `${e.name}-connection`), 'connection Secret');
        owned(await get(resourceTypes.ConfigMap, `${e.name}-config`), 'ConfigMap');
        owned(await get(resourceTypes.PodDisruptionBudget, e.name), 'PodDisruptionBudget');
        owned(await get(resourceTypes.NetworkPolicy, e.name), 'NetworkPolicy');
        assert.equal((await claims(e.name)).length, 1, 'one data volume');
        if (e.roles) assert.equal((await members(e.name))[0]!.metadata.labels?.[ROLE], 'primary');
        if (e.init) {
          const job = await get(resourceTypes.Job, `${e.name}-init`);
          assert.ok(job?.status?.succeeded, 'the first-time setup Job ran before the Database was Ready');
        }
      }),
    );
    const events = (await client.request<KubeList>('GET', resourcePath(resourceTypes.Event, NS))).items.filter(
      (event) => event.reportingController === REPORTING_CONTROLLER && (event.regarding as { name: string }).name === 'pg',
    );
    const reasons = new Set(events.map((event) => event.reason));
    assert.ok(reasons.has('Created') && reasons.has('Ready'), `Events about pg: ${[...reasons].join(', ')}`);
  });

  it('scales 1 → 3 → 1 with kubectl scale, through the scale subresource', async () => {
    await Promise.all(
      ENGINES.map(async (e) => {
        await kubectl(cluster.kubeconfig, ['scale', 'database', e.name, '-n', NS, '--replicas', '3']);
        await ready(e.name, 3);
        assert.equal((await get(resourceTypes.StatefulSet, e.name))?.spec.replicas, 3);
        if (e.roles) {
          const roles = (await members(e.name)).map((pod) => [pod.metadata.name, pod.metadata.labels?.[ROLE]]).sort();
          assert.deepEqual(roles, [[`${e.name}-0`, 'primary'], [`${e.name}-1`, 'replica'], [`${e.name}-2`, 'replica']]);
          assert.ok((await database(e.name))?.status?.endpoints?.readOnly, 'a read-only endpoint with replicas');
        }
        if (e.engine === 'etcd') {
          const recorded = JSON.parse((await database(e.name))!.metadata.annotations![MEMBERS_ANNOTATION]!);
          assert.deepEqual(recorded, [0, 1, 2].map((n) => ({ name: `${e.name}-${n}`, learner: false })), 'three voting members');
        }
        await kubectl(cluster.kubeconfig, ['scale', 'database', e.name, '-n', NS, '--replicas', '1']);
        await ready(e.name, 1);
        assert.equal((await get(resourceTypes.StatefulSet, e.name))?.spec.replicas, 1);
        await until(`${e.name}'s removed members' claims are gone`, async () => (await claims(e.name)).length === 1);
      }),
    );
  });

  it('puts back a deleted Service and a deleted StatefulSet, and an edited child', async () => {
    const before = await get(resourceTypes.StatefulSet, 'pg');
    await kubectl(cluster.kubeconfig, ['delete', 'service', 'pg', 'pg-ro', '-n', NS]);
    await kubectl(cluster.kubeconfig, ['delete', 'statefulset', 'pg', '-n', NS]);
    const sts = await until('the StatefulSet is back', async () => {
      const now = await get(resourceTypes.StatefulSet, 'pg');
      return now && now.metadata.uid !== before?.metadata.uid && now;
    });
    assert.equal(sts.spec.replicas, 1);
    await until('the Services are back', async () => Boolean((await get(resourceTypes.Service, 'pg')) && (await get(resourceTypes.Service, 'pg-ro'))));
    await kubectl(cluster.kubeconfig, ['patch', 'service', 'pg', '-n', NS, '--type', 'merge', '-p', '{"spec":{"selector":{"edited":"by-hand"}}}']);
    await until('the edit is undone', async () => (await get(resourceTypes.Service, 'pg'))?.spec.selector.edited === undefined);
    await ready('pg', 1);
  });

  it('rolls the members to a new minor version and new resources, and refuses a major upgrade with a condition', async () => {
    await Promise.all(
      ENGINES.map(async (e) => {
        const before = image(await get(resourceTypes.StatefulSet, e.name));
        await patchSpec(e.name, { version: e.minor, resources: { limits: { memory: '512Mi' } } });
        const db = await until(`${e.name} runs ${e.minor}`, async () => {
          const current = await database(e.name);
          return current?.status?.currentVersion === e.minor && current.status.observedGeneration === current.metadata.generation && current;
        });
        assert.equal(db.status?.phase, 'Ready');
        const template = (await get(resourceTypes.StatefulSet, e.name))!.spec.template.spec.containers[0];
        const rolled = template.image as string;
        assert.notEqual(rolled, before, 'the pod template has the new image');
        assert.equal(template.resources.limits.memory, '512Mi', 'and the new resources');
        assert.deepEqual((await members(e.name)).map((pod) => pod.spec.containers[0].image), [rolled], 'the member was replaced');

        await patchSpec(e.name, { version: e.major });
        const refused = await until(`${e.name} refuses ${e.major}`, async () => {
          const current = await database(e.name);
          const progressing = findCondition(current?.status?.conditions, 'Progressing');
          return current?.status?.observedGeneration === current?.metadata.generation && progressing?.reason === 'MajorUpgradeRequiresBackup' && progressing;
        });
        assert.equal(refused.status, 'False');
        assert.match(refused.message, new RegExp(`spec.version ${e.major.replace('.', '\\.')} is a major upgrade from ${e.minor.replace(/\./g, '\\.')}`));
        assert.equal(image(await get(resourceTypes.StatefulSet, e.name)), rolled, 'the children stay at the old version');
        assert.equal((await database(e.name))?.status?.currentVersion, e.minor);
      }),
    );
  });

  it('keeps the volumes with deletionPolicy Retain and removes them with Delete', async () => {
    await createDatabase('kept', { engine: 'redis', replicas: 2, deletionPolicy: 'Retain' });
    await createDatabase('dropped', { engine: 'redis', replicas: 2, deletionPolicy: 'Delete' });
    await Promise.all([ready('kept', 2), ready('dropped', 2)]);
    await kubectl(cluster.kubeconfig, ['delete', 'database', 'kept', 'dropped', '-n', NS, '--wait=true', '--timeout=90s']);
    assert.equal(await database('kept'), undefined);
    assert.equal(await database('dropped'), undefined);
    assert.deepEqual((await claims('kept')).map((c) => c.metadata.name).sort(), ['data-kept-0', 'data-kept-1']);
    assert.deepEqual(await claims('dropped'), []);
    const credentials = await get(resourceTypes.Secret, 'kept-credentials');
    assert.deepEqual(credentials?.metadata.ownerReferences ?? [], [], 'the passwords of the kept volumes stay, owned by nobody');
    await until('the workload of the retained Database is gone', async () => (await get(resourceTypes.StatefulSet, 'kept')) === undefined && (await members('kept')).length === 0);
  });

  it('refuses to delete a Database with deletionProtection: true', async () => {
    await patchSpec('cache', { deletionProtection: true });
    await assert.rejects(
      kubectl(cluster.kubeconfig, ['delete', 'database', 'cache', '-n', NS]),
      /databases\.strongroom\.dev "cache" is forbidden: database shop\/cache has deletionProtection: true; set it to false first/,
    );
    assert.equal((await database('cache'))?.metadata.deletionTimestamp, undefined);
  });

  it('changes nothing while paused, and catches up when resumed', async () => {
    const pausedGeneration = () =>
      until('the controller has seen the paused generation', async () => {
        const db = await database('cache');
        return db?.status?.observedGeneration === db?.metadata.generation && db?.status?.phase === 'Paused' && db;
      });
    await patchSpec('cache', { paused: true });
    await pausedGeneration();
    // Changes made while paused, then a generation the controller must have seen after them.
    await kubectl(cluster.kubeconfig, ['delete', 'service', 'cache-ro', '-n', NS]);
    await patchSpec('cache', { replicas: 2 });
    const paused = await pausedGeneration();
    assert.equal(findCondition(paused.status?.conditions, 'Progressing')?.reason, 'Paused');
    assert.equal((await get(resourceTypes.StatefulSet, 'cache'))?.spec.replicas, 1, 'not scaled');
    assert.equal(await get(resourceTypes.Service, 'cache-ro'), undefined, 'not put back');

    await patchSpec('cache', { paused: false });
    await ready('cache', 2);
    assert.ok(await get(resourceTypes.Service, 'cache-ro'));
  });

  it('runs the image the catalog ConfigMap names, follows its edits, and spec.image over it', async () => {
    const catalog = (redis62: string) =>
      kubectl(cluster.kubeconfig, ['apply', '-n', 'strongroom-system', '-f', '-'], JSON.stringify({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'strongroom-images' },
        data: { 'catalog.yaml': `engines:\n  redis: {"6": "registry.example/redis:6-other", "6.2": "${redis62}"}\n` },
      }));
    const runs = (name: string, wanted: string) =>
      until(`${name} runs ${wanted}`, async () => {
        const db = await ready(name, 1);
        return image(await get(resourceTypes.StatefulSet, name)) === wanted && db.status?.image === wanted;
      });
    try {
      await catalog('registry.example/redis:6.2-first');
      await createDatabase('mirrored', { engine: 'redis', version: '6.2.14', deletionPolicy: 'Delete' });
      await runs('mirrored', 'registry.example/redis:6.2-first');
      await catalog('registry.example/redis:6.2-second');
      await runs('mirrored', 'registry.example/redis:6.2-second');
      await patchSpec('mirrored', { image: 'registry.example/team/redis:own' });
      await runs('mirrored', 'registry.example/team/redis:own');
      await patchSpec('mirrored', { image: null });
      await runs('mirrored', 'registry.example/redis:6.2-second');
    } finally {
      await kubectl(cluster.kubeconfig, ['delete', 'configmap', 'strongroom-images', '-n', 'strongroom-system', '--ignore-not-found']);
    }
    await runs('mirrored', 'docker.io/library/redis:6.2.14');
  });
});
