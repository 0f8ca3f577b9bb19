// What every engine promises, checked for each: names, labels, schema-valid objects, determinism, configuration
// hashing, kept credentials, resources, storage, placement, security and the status it publishes.
import { ObjectSerializer } from '@kubernetes/client-node/dist/gen/models/ObjectSerializer.js';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeObject } from '../../src/api/meta.ts';
import { CONFIG_HASH_ANNOTATION, selectorLabels } from '../../src/engines/common.ts';
import { membershipJob } from '../../src/engines/etcd/membership.ts';
import { ENGINE_NAMES as REGISTERED, engineFor } from '../../src/engines/registry.ts';
import { container, database, decoded, ENGINE_NAMES, find, passwordCounter, podSpec, render } from './fixtures.ts';

const MAIN_CONTAINER = { postgres: 'postgres', redis: 'redis', etcd: 'etcd' } as const;

describe('engine registry', () => {
  it('holds the engines these tests cover, each under its own name', () => {
    assert.deepEqual(REGISTERED, [...ENGINE_NAMES]);
    for (const name of REGISTERED) assert.equal(engineFor(name).name, name);
  });
  it('gives every engine a default version it supports and a default backup method', () => {
    for (const name of REGISTERED) {
      const { spec, backup } = engineFor(name);
      assert.ok(spec.majors.some((major) => spec.defaultVersion.startsWith(major)), name);
      assert.ok(backup.methods.length > 0, name);
    }
  });
});

describe('engine children', () => {
  /** postgres and redis: one primary and its replicas (src/engines/replicated.ts). */
  const primaryWithReplicas = [
    'ConfigMap/orders-config',
    'Secret/orders-connection',
    'Service/orders-headless',
    'Service/orders',
    'Service/orders-ro',
    'StatefulSet/orders',
    'PodDisruptionBudget/orders',
    'NetworkPolicy/orders',
  ];
  const expected = {
    postgres: primaryWithReplicas,
    redis: primaryWithReplicas,
    etcd: [
      'ConfigMap/orders-config',
      'ConfigMap/orders-cluster',
      'Secret/orders-connection',
      'Service/orders-headless',
      'Service/orders',
      'StatefulSet/orders',
      'PodDisruptionBudget/orders',
      'NetworkPolicy/orders',
    ],
  } as const;
  for (const engine of ENGINE_NAMES) {
    it(`${engine}: applies its children in order, configuration before the workload`, () => {
      const state = render(database(engine));
      assert.deepEqual(
        state.objects.map((o) => `${o.kind}/${o.metadata.name}`),
        expected[engine],
      );
      assert.equal(state.credentials.kind, 'Secret');
      assert.equal(state.credentials.metadata.name, 'orders-credentials');
    });

    it(`${engine}: labels every child and leaves owner references to the caller`, () => {
      const state = render(database(engine));
      for (const obj of [state.credentials, ...state.objects]) {
        assert.equal(obj.metadata.namespace, 'shop');
        assert.equal(obj.metadata.ownerReferences, undefined);
        assert.deepEqual(obj.metadata.labels, {
          'app.kubernetes.io/component': 'database',
          'app.kubernetes.io/instance': 'orders',
          'app.kubernetes.io/managed-by': 'strongroom',
          'app.kubernetes.io/name': engine,
          'strongroom.dev/database': 'orders',
        });
      }
    });
  }
  it('has an init Job only for etcd, which needs its members running to enable authentication', () => {
    assert.equal(render(database('postgres')).initJob, undefined);
    assert.equal(render(database('redis')).initJob, undefined);
    assert.equal(render(database('etcd')).initJob?.metadata.name, 'orders-init');
  });
});

/** The typed models of @kubernetes/client-node drop every field the Kubernetes schema does not know. */
function throughSchema(obj: KubeObject): unknown {
  const type = `V1${obj.kind}`;
  const typed = ObjectSerializer.deserialize(structuredClone(obj), type, '');
  return JSON.parse(JSON.stringify(ObjectSerializer.serialize(typed, type, '')));
}

describe('engine objects against the Kubernetes schema', () => {
  for (const engine of ENGINE_NAMES) {
    it(`${engine}: every field is one the Kubernetes API knows`, () => {
      const state = render(database(engine, { replicas: 3, resources: { limits: { cpu: 1, memory: '1Gi' } } }));
      const objects = [state.credentials, ...state.objects, ...(state.initJob ? [state.initJob] : [])];
      if (engine === 'etcd') objects.push(membershipJob(database('etcd'), { action: 'add', member: 'orders-3' }));
      for (const obj of objects) assert.deepEqual(throughSchema(obj), obj, `${obj.kind}/${obj.metadata.name}`);
    });
  }
  it('notices a misspelt field (the check can fail)', () => {
    const obj = structuredClone(find(render(database('redis')), 'Service', 'orders'));
    obj.spec.selectr = obj.spec.selector;
    assert.notDeepEqual(throughSchema(obj), obj);
  });
});

describe('engine determinism', () => {
  for (const engine of ENGINE_NAMES) {
    it(`${engine}: the same Database gives the same bytes, whatever the order of its maps`, () => {
      const spec = { replicas: 3, resources: { requests: { memory: '1Gi', cpu: '500m' } } };
      const a = database(engine, { ...spec, parameters: { 'heartbeat-interval': '200', 'election-timeout': '2000' } });
      const b = database(engine, { ...spec, parameters: { 'election-timeout': '2000', 'heartbeat-interval': '200' } });
      const ctx = { generatePassword: () => 'fixed' };
      if (engine === 'postgres') {
        a.spec.parameters = { work_mem: '8MB', max_connections: '50' };
        b.spec.parameters = { max_connections: '50', work_mem: '8MB' };
      } else if (engine === 'redis') {
        a.spec.parameters = { 'maxmemory-policy': 'allkeys-lru', appendonly: 'yes' };
        b.spec.parameters = { appendonly: 'yes', 'maxmemory-policy': 'allkeys-lru' };
      }
      assert.equal(JSON.stringify(render(a, ctx)), JSON.stringify(render(b, ctx)));
    });
  }
});

describe('engine configuration hash', () => {
  const parameter = { postgres: ['work_mem', '16MB'], redis: ['appendonly', 'yes'], etcd: ['snapshot-count', '5000'] } as const;
  for (const engine of ENGINE_NAMES) {
    it(`${engine}: a parameter change changes the hash in the pod template, so the pods roll`, () => {
      const [key, value] = parameter[engine];
      const before = find(render(database(engine)), 'StatefulSet', 'orders');
      const after = find(render(database(engine, { parameters: { [key]: value } })), 'StatefulSet', 'orders');
      const hash = (sts: KubeObject) => sts.spec.template.metadata.annotations[CONFIG_HASH_ANNOTATION];
      assert.match(hash(before), /^[0-9a-f]{64}$/);
      assert.notEqual(hash(after), hash(before));
      assert.notDeepEqual(after.spec.template, before.spec.template);
    });

    it(`${engine}: a change of replicas leaves the pod template alone`, () => {
      const one = find(render(database(engine)), 'StatefulSet', 'orders');
      const three = find(render(database(engine, { replicas: 3 })), 'StatefulSet', 'orders');
      assert.deepEqual(three.spec.template, one.spec.template);
      assert.equal(three.spec.replicas, 3);
    });
  }
});

describe('engine credentials', () => {
  for (const engine of ENGINE_NAMES) {
    const keys = engineFor(engine).credentialKeys;

    it(`${engine}: generates every password when there is no Secret`, () => {
      const passwords = passwordCounter();
      const state = render(database(engine), { generatePassword: passwords.next });
      assert.equal(passwords.calls, keys.length);
      assert.deepEqual(Object.keys(decoded(state.credentials)).sort(), [...keys].sort());
    });

    it(`${engine}: never regenerates a password of an existing Secret`, () => {
      const existing = render(database(engine)).credentials;
      const passwords = passwordCounter();
      const again = render(database(engine), { credentials: existing, generatePassword: passwords.next });
      assert.equal(passwords.calls, 0);
      assert.deepEqual(again.credentials.data, existing.data);
    });

    it(`${engine}: fills in only the keys the existing Secret lacks`, () => {
      const existing = structuredClone(render(database(engine)).credentials);
      const [dropped, ...kept] = [...keys].sort();
      delete (existing.data as Record<string, string>)[dropped!];
      const passwords = passwordCounter();
      const again = decoded(render(database(engine), { credentials: existing, generatePassword: passwords.next }).credentials);
      assert.equal(passwords.calls, 1);
      assert.equal(again[dropped!], 'generated1');
      for (const key of kept) assert.equal(again[key], decoded(existing)[key]);
    });

    it(`${engine}: hands the same password to applications in the connection Secret`, () => {
      const state = render(database(engine));
      const connection = decoded(find(state, 'Secret', 'orders-connection'));
      assert.ok(Object.values(decoded(state.credentials)).includes(connection.password!));
    });
  }
});

describe('engine connection Secret', () => {
  const table = {
    postgres: { port: '5432', username: 'orders', uri: 'postgresql://orders:{pw}@orders.shop.svc.cluster.local:5432/orders' },
    redis: { port: '6379', username: 'default', uri: 'redis://default:{pw}@orders.shop.svc.cluster.local:6379/0' },
    etcd: { port: '2379', username: 'root', uri: 'http://orders.shop.svc.cluster.local:2379' },
  } as const;
  for (const engine of ENGINE_NAMES) {
    it(`${engine}: host, port, username, password and uri through the client Service's DNS name`, () => {
      const connection = decoded(find(render(database(engine)), 'Secret', 'orders-connection'));
      const want = table[engine];
      assert.equal(connection.host, 'orders.shop.svc.cluster.local');
      assert.equal(connection.port, want.port);
      assert.equal(connection.username, want.username);
      assert.match(connection.password!, /^generated\d$/);
      assert.equal(connection.uri, want.uri.replace('{pw}', connection.password!));
      assert.ok(!Object.values(connection).some((v) => /\b\d+\.\d+\.\d+\.\d+\b/.test(v)), 'no IP address');
    });
  }
  it('follows the cluster domain', () => {
    const connection = decoded(find(render(database('redis'), { clusterDomain: 'corp.example' }), 'Secret', 'orders-connection'));
    assert.equal(connection.host, 'orders.shop.svc.corp.example');
  });
});

describe('engine pods', () => {
  for (const engine of ENGINE_NAMES) {
    it(`${engine}: takes resources from spec.resources, as strings`, () => {
      const state = render(database(engine, { resources: { requests: { cpu: 1, memory: '512Mi' }, limits: { memory: '1Gi' } } }));
      assert.deepEqual(container(state, MAIN_CONTAINER[engine]).resources, {
        limits: { memory: '1Gi' },
        requests: { cpu: '1', memory: '512Mi' },
      });
    });

    it(`${engine}: claims spec.storage for each member, 1Gi of the default class when unset`, () => {
      const sized = find(render(database(engine, { storage: { size: '20Gi', storageClassName: 'fast' } })), 'StatefulSet', 'orders');
      assert.deepEqual(sized.spec.volumeClaimTemplates[0].spec, {
        accessModes: ['ReadWriteOnce'],
        storageClassName: 'fast',
        resources: { requests: { storage: '20Gi' } },
      });
      const plain = find(render(database(engine)), 'StatefulSet', 'orders');
      assert.deepEqual(plain.spec.volumeClaimTemplates[0].spec, {
        accessModes: ['ReadWriteOnce'],
        resources: { requests: { storage: '1Gi' } },
      });
    });

    it(`${engine}: keeps the claim templates of the live StatefulSet, which the API will not change`, () => {
      const live = structuredClone(find(render(database(engine)), 'StatefulSet', 'orders'));
      live.spec.volumeClaimTemplates[0].status = { phase: 'Pending' };
      const grown = find(render(database(engine, { storage: { size: '50Gi' } }), { statefulSet: live }), 'StatefulSet', 'orders');
      assert.deepEqual(grown.spec.volumeClaimTemplates[0].spec.resources, { requests: { storage: '1Gi' } });
      assert.equal(grown.spec.volumeClaimTemplates[0].status, undefined);
    });

    it(`${engine}: prefers to spread members over nodes`, () => {
      const affinity = podSpec(render(database(engine, { replicas: 3 }))).affinity;
      assert.deepEqual(affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution, [
        {
          weight: 100,
          podAffinityTerm: { labelSelector: { matchLabels: selectorLabels(database(engine)) }, topologyKey: 'kubernetes.io/hostname' },
        },
      ]);
    });

    it(`${engine}: runs as a non-root user that owns the data volume`, () => {
      const state = render(database(engine));
      const security = podSpec(state).securityContext;
      assert.equal(security.runAsNonRoot, true);
      assert.ok(security.runAsUser > 0);
      assert.equal(security.fsGroup, security.runAsUser);
      assert.deepEqual(container(state, MAIN_CONTAINER[engine]).securityContext, {
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
      });
    });

    it(`${engine}: has startup, readiness and liveness probes`, () => {
      const c = container(render(database(engine)), MAIN_CONTAINER[engine]);
      for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) assert.ok(c[probe], probe);
    });

    it(`${engine}: selects its members with the labels of its pod template`, () => {
      const sts = find(render(database(engine)), 'StatefulSet', 'orders');
      for (const [key, value] of Object.entries(sts.spec.selector.matchLabels)) {
        assert.equal(sts.spec.template.metadata.labels[key], value);
      }
      assert.equal(sts.spec.serviceName, 'orders-headless');
    });
  }
});

describe('engine disruption budget and network policy', () => {
  for (const engine of ENGINE_NAMES) {
    it(`${engine}: admits members, pods labelled as clients, and the database's backup agents`, () => {
      const policy = find(render(database(engine)), 'NetworkPolicy', 'orders');
      const selector = selectorLabels(database(engine));
      assert.deepEqual(policy.spec.podSelector, { matchLabels: selector });
      assert.deepEqual(policy.spec.policyTypes, ['Ingress']);
      const [members, clients] = policy.spec.ingress;
      assert.deepEqual(members.from, [{ podSelector: { matchLabels: selector } }]);
      assert.deepEqual(clients.from, [
        { podSelector: { matchLabels: { 'strongroom.dev/client-of': 'orders' } } },
        { podSelector: { matchLabels: { 'strongroom.dev/database': 'orders', 'strongroom.dev/role': 'backup-agent' } } },
      ]);
      assert.deepEqual(clients.ports, [{ protocol: 'TCP', port: engineFor(engine).defaultPort }]);
    });
  }
  for (const engine of ['postgres', 'redis'] as const) {
    it(`${engine}: lets one member at a time go`, () => {
      const pdb = find(render(database(engine, { replicas: 3 })), 'PodDisruptionBudget', 'orders');
      assert.deepEqual(pdb.spec, { maxUnavailable: 1, selector: { matchLabels: selectorLabels(database(engine)) } });
    });
  }
});

describe('engine status', () => {
  const ports = { postgres: 5432, redis: 6379, etcd: 2379 } as const;
  for (const engine of ENGINE_NAMES) {
    it(`${engine}: publishes the selector, the endpoints and the connection Secret`, () => {
      const status = render(database(engine)).status;
      assert.equal(status.selector, `app.kubernetes.io/component=database,app.kubernetes.io/name=${engine},strongroom.dev/database=orders`);
      assert.deepEqual(status.endpoints, { primary: `orders.shop.svc.cluster.local:${ports[engine]}` });
      assert.equal(status.connectionSecret, 'orders-connection');
    });
  }
  for (const engine of ['postgres', 'redis'] as const) {
    it(`${engine}: adds the read-only endpoint once there are replicas`, () => {
      assert.equal(render(database(engine, { replicas: 2 })).status.endpoints.readOnly, `orders-ro.shop.svc.cluster.local:${ports[engine]}`);
    });
  }
});

describe('engine images and upgrades', () => {
  for (const engine of ENGINE_NAMES) {
    it(`${engine}: runs the image the controller passes in every container it renders`, () => {
      const image = `registry.example/${engine}:hardened`;
      const state = render(database(engine, { replicas: 3 }), { image });
      const jobs = [state.initJob, ...(engine === 'etcd' ? [membershipJob(database(engine), { action: 'add', member: 'orders-3' }, { image })] : [])];
      const specs = [podSpec(state), ...jobs.filter((j) => j !== undefined).map((j) => j!.spec.template.spec)];
      const images = specs.flatMap((spec: any) => [...(spec.initContainers ?? []), ...spec.containers].map((c: any) => c.image));
      assert.ok(images.length > 0);
      assert.deepEqual(new Set(images), new Set([image]));
    });
    it(`${engine}: states the command of every container it renders`, () => {
      const state = render(database(engine, { replicas: 3 }));
      const containers = [podSpec(state), ...(state.initJob ? [state.initJob.spec.template.spec] : [])].flatMap((spec: any) => [...(spec.initContainers ?? []), ...spec.containers]);
      for (const c of containers) {
        assert.ok(Array.isArray(c.command) && c.command.length > 0, `${c.name} has a command`);
        assert.ok(!c.command[0].includes('/'), `${c.name} calls ${c.command[0]} by name through PATH`);
      }
    });
  }

  const images: [string, string, string][] = [
    ['postgres', '17', 'docker.io/library/postgres:17'],
    ['postgres', '16.4', 'docker.io/library/postgres:16.4'],
    ['redis', '7.2', 'docker.io/library/redis:7.2'],
    ['redis', '6.2.14', 'docker.io/library/redis:6.2.14'],
    ['etcd', '3.5', 'registry.k8s.io/etcd:3.5.21-0'],
    ['etcd', '3.6', 'registry.k8s.io/etcd:3.6.4-0'],
    ['etcd', '3.4', 'registry.k8s.io/etcd:3.4.13-0'],
    ['etcd', '3.5.15', 'registry.k8s.io/etcd:3.5.15-0'],
  ];
  for (const [engine, version, image] of images) {
    it(`${engine} ${version} runs ${image}`, () => {
      assert.equal(engineFor(engine as 'postgres').defaultImage(version), image);
    });
  }
  for (const version of ['3.3', 'latest']) {
    it(`has no etcd release pinned for ${version}`, () => {
      assert.throws(() => engineFor('etcd').defaultImage(version), /no etcd release is pinned/);
    });
  }

  const upgrades: [string, string, string, string][] = [
    ['postgres', '17', '17', 'none'],
    ['postgres', '17', '17.2', 'minor'],
    ['postgres', '17.4', '17.2', 'minor'],
    ['postgres', '16', '17', 'major'],
    ['redis', '7.2', '7.2.5', 'minor'],
    ['redis', '7.2', '7.4', 'major'],
    ['etcd', '3.5', '3.5.21', 'none'],
    ['etcd', '3.5', '3.5.15', 'minor'],
    ['etcd', '3.5', '3.6', 'major'],
    ['etcd', '3.5', 'garbage', 'major'],
  ];
  for (const [engine, from, to, kind] of upgrades) {
    it(`${engine} ${from} → ${to} is ${kind}`, () => {
      assert.equal(engineFor(engine as 'postgres').upgradeKind(from, to), kind);
    });
  }

  for (const engine of ENGINE_NAMES) {
    it(`${engine}: a minor version change changes only the images, which rolls the pods`, () => {
      const version = { postgres: ['17', '17.2'], redis: ['7.2', '7.2.5'], etcd: ['3.5', '3.5.15'] }[engine];
      const before = find(render(database(engine, { version: version[0] })), 'StatefulSet', 'orders');
      const after = find(render(database(engine, { version: version[1] })), 'StatefulSet', 'orders');
      const images = (sts: KubeObject) => [...(sts.spec.template.spec.initContainers ?? []), ...sts.spec.template.spec.containers].map((c: any) => c.image);
      assert.ok(images(after).every((image: string) => image === engineFor(engine).defaultImage(version[1]!)));
      // The newer image first: postgres:17 is a prefix of postgres:17.2.
      const strip = (sts: KubeObject) =>
        JSON.stringify(sts).replaceAll(engineFor(engine).defaultImage(version[1]!), 'IMAGE').replaceAll(engineFor(engine).defaultImage(version[0]!), 'IMAGE');
      assert.equal(strip(after), strip(before));
    });
  }
});
