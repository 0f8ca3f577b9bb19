import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { databaseDefinition as def, cronError } from '../../src/api/database.ts';
import type { JSONSchemaProps } from '../../src/api/definition.ts';
import { StatusError } from '../../src/api/errors.ts';
import type { KubeObject } from '../../src/api/meta.ts';
import { applySchemaDefaults } from '../../src/api/schema.ts';

/** What the registry does before validating: schema defaults, then the definition's own. */
function defaulted(spec: Record<string, unknown>, name = 'orders'): KubeObject {
  const obj: KubeObject = { apiVersion: 'strongroom.dev/v1alpha1', kind: 'Database', metadata: { name, namespace: 'shop' }, spec };
  applySchemaDefaults(def.schema, obj);
  def.applyDefaults(obj);
  return obj;
}

function withSpec(patch: (spec: any) => void, base: Record<string, unknown> = { engine: 'postgres' }): KubeObject {
  const obj = defaulted(structuredClone(base));
  patch(obj.spec);
  return obj;
}

describe('Database defaulting', () => {
  it('fills every default of a minimal object', () => {
    assert.deepEqual(defaulted({ engine: 'postgres' }).spec, {
      engine: 'postgres',
      version: '17',
      replicas: 1,
      storage: { size: '1Gi' },
      backup: { repository: { pvc: {} }, compression: 'zstd', backoffLimit: 2, activeDeadlineSeconds: 21600 },
      deletionPolicy: 'Snapshot',
      deletionProtection: false,
      paused: false,
    });
  });

  for (const [engine, version] of [['postgres', '17'], ['redis', '7.2'], ['etcd', '3.5']] as const) {
    it(`defaults the ${engine} version to ${version}`, () => {
      assert.equal(defaulted({ engine }).spec.version, version);
    });
  }

  it('keeps what was given', () => {
    const spec = defaulted({
      engine: 'redis',
      version: '7.0',
      storage: { size: '5Gi' },
      backup: { repository: { s3: { bucket: 'bkp', credentialsSecret: 's3' } }, encryption: { secretName: 'k' } },
    }).spec;
    assert.equal(spec.version, '7.0');
    assert.deepEqual(spec.storage, { size: '5Gi' });
    assert.deepEqual(spec.backup.repository, { s3: { bucket: 'bkp', credentialsSecret: 's3', forcePathStyle: false } });
    assert.deepEqual(spec.backup.encryption, { secretName: 'k', key: 'key' });
  });

  it('leaves the version alone when the engine is unknown', () => {
    assert.equal(defaulted({ engine: 'mysql' }).spec.version, undefined);
  });
});

describe('Database validation', () => {
  const good: [string, (spec: any) => void, Record<string, unknown>?][] = [
    ['a minimal postgres', () => {}],
    ['redis with replicas', (s) => Object.assign(s, { replicas: 3, version: '7.2.5' }), { engine: 'redis' }],
    ['a 5-member etcd', (s) => (s.replicas = 5), { engine: 'etcd' }],
    ['integer and string quantities', (s) => (s.resources = { requests: { cpu: 1, memory: '512Mi' }, limits: { cpu: '1500m', memory: '1Gi' } })],
    ['engine parameters', (s) => (s.parameters = { max_connections: '200', shared_buffers: '256MB' })],
    ['a schedule with retention', (s) => Object.assign(s.backup, { schedule: '0 3 * * *', retention: { keepLast: 7, keepDaily: 0 } })],
    ['a cron macro', (s) => (s.backup.schedule = '@daily')],
    ['an existing claim', (s) => (s.backup.repository = { pvc: { claimName: 'backups' } })],
    [
      'an s3 repository',
      (s) =>
        (s.backup.repository = {
          s3: { endpoint: 'http://minio.storage:9000', bucket: 'db-backups', prefix: 'prod/', region: 'eu-west-1', credentialsSecret: 'minio', forcePathStyle: true },
        }),
    ],
    ['a 52-character name', () => {}],
  ];
  for (const [name, patch, base] of good) {
    it(`accepts ${name}`, () => {
      assert.deepEqual(def.validate(withSpec(patch, base)), []);
    });
  }

  it('accepts a complete status', () => {
    const obj = defaulted({ engine: 'postgres' });
    obj.status = {
      phase: 'Ready',
      conditions: [{ type: 'Ready', status: 'True', reason: 'AllMembersReady', message: '', lastTransitionTime: '2025-01-01T00:00:00Z', observedGeneration: 1 }],
      observedGeneration: 1,
      replicas: 1,
      readyReplicas: 1,
      selector: 'strongroom.dev/database=orders',
      currentVersion: '17.2',
      endpoints: { primary: 'orders.shop.svc:5432' },
      connectionSecret: 'orders-connection',
      lastBackup: { name: 'orders-x1', completionTime: '2025-01-01T03:00:00Z' },
      nextBackupTime: '2025-01-02T03:00:00Z',
    };
    assert.deepEqual(def.validate(obj), []);
  });

  const bad: [string, (spec: any) => void, string, string, RegExp?, Record<string, unknown>?][] = [
    ['an unknown engine', (s) => (s.engine = 'mysql'), 'FieldValueNotSupported', 'spec.engine', /supported values: "postgres", "redis", "etcd"/],
    ['no engine', (s) => delete s.engine, 'FieldValueRequired', 'spec.engine'],
    ['a malformed version', (s) => (s.version = 'latest'), 'FieldValueInvalid', 'spec.version', /postgres version such as "17"/],
    ['an unsupported major', (s) => (s.version = '12.4'), 'FieldValueNotSupported', 'spec.version', /"13", "14", "15", "16", "17"/],
    ['a redis version without minor', (s) => (s.version = '7'), 'FieldValueInvalid', 'spec.version', /redis version/, { engine: 'redis' }],
    ['zero replicas', (s) => (s.replicas = 0), 'FieldValueInvalid', 'spec.replicas', /greater than or equal to 1/],
    ['too many replicas', (s) => (s.replicas = 10), 'FieldValueInvalid', 'spec.replicas', /less than or equal to 9/],
    ['an even etcd cluster', (s) => (s.replicas = 4), 'FieldValueInvalid', 'spec.replicas', /odd number/, { engine: 'etcd' }],
    ['a 9-member etcd', (s) => (s.replicas = 9), 'FieldValueInvalid', 'spec.replicas', /at most 7/, { engine: 'etcd' }],
    ['a malformed quantity', (s) => (s.resources = { limits: { memory: '1 GB' } }), 'FieldValueInvalid', 'spec.resources.limits.memory', /should match/],
    ['a negative quantity', (s) => (s.resources = { requests: { cpu: '-1' } }), 'FieldValueInvalid', 'spec.resources.requests.cpu', /greater than or equal to 0/],
    [
      'requests above limits',
      (s) => (s.resources = { requests: { memory: '2Gi' }, limits: { memory: '1Gi' } }),
      'FieldValueInvalid',
      'spec.resources.requests.memory',
      /less than or equal to memory limit of 1Gi/,
    ],
    ['a zero storage size', (s) => (s.storage.size = '0'), 'FieldValueInvalid', 'spec.storage.size', /greater than zero/],
    ['a bad storage class', (s) => (s.storage.storageClassName = 'Fast_SSD'), 'FieldValueInvalid', 'spec.storage.storageClassName', /should match/],
    ['a non-string parameter', (s) => (s.parameters = { max_connections: 200 }), 'FieldValueTypeInvalid', 'spec.parameters[max_connections]'],
    ['a managed parameter', (s) => (s.parameters = { port: '5433' }), 'FieldValueForbidden', 'spec.parameters[port]', /managed by Strongroom/],
    [
      'two repositories',
      (s) => (s.backup.repository = { pvc: {}, s3: { bucket: 'bkp', credentialsSecret: 's' } }),
      'FieldValueForbidden',
      'spec.backup.repository.s3',
      /more than 1 repository type/,
    ],
    ['no repository', (s) => (s.backup.repository = {}), 'FieldValueRequired', 'spec.backup.repository', /pvc or s3/],
    [
      'a claim with a size',
      (s) => (s.backup.repository = { pvc: { claimName: 'b', size: '1Gi' } }),
      'FieldValueForbidden',
      'spec.backup.repository.pvc.size',
      /claim already exists/,
    ],
    ['s3 without a bucket', (s) => (s.backup.repository = { s3: { credentialsSecret: 's' } }), 'FieldValueRequired', 'spec.backup.repository.s3.bucket'],
    [
      'an s3 endpoint without scheme',
      (s) => (s.backup.repository = { s3: { endpoint: 'minio:9000', bucket: 'bkp', credentialsSecret: 's' } }),
      'FieldValueInvalid',
      'spec.backup.repository.s3.endpoint',
    ],
    ['a 4-field schedule', (s) => (s.backup.schedule = '0 3 * *'), 'FieldValueInvalid', 'spec.backup.schedule', /5 fields/],
    ['a 6-field schedule', (s) => (s.backup.schedule = '0 0 3 * * *'), 'FieldValueInvalid', 'spec.backup.schedule', /5 fields/],
    ['an impossible schedule', (s) => (s.backup.schedule = '61 * * * *'), 'FieldValueInvalid', 'spec.backup.schedule', /not a valid cron expression/],
    ['a negative retention', (s) => (s.backup.retention = { keepLast: -1 }), 'FieldValueInvalid', 'spec.backup.retention.keepLast'],
    ['an unknown compression', (s) => (s.backup.compression = 'lz4'), 'FieldValueNotSupported', 'spec.backup.compression', /"zstd", "gzip", "none"/],
    ['encryption without secret', (s) => (s.backup.encryption = {}), 'FieldValueRequired', 'spec.backup.encryption.secretName'],
    ['an unknown deletion policy', (s) => (s.deletionPolicy = 'Orphan'), 'FieldValueNotSupported', 'spec.deletionPolicy'],
    ['a string boolean', (s) => (s.paused = 'yes'), 'FieldValueTypeInvalid', 'spec.paused'],
  ];
  for (const [name, patch, type, field, message, base] of bad) {
    it(`refuses ${name}`, () => {
      const errors = def.validate(withSpec(patch, base));
      assert.equal(errors.length, 1, JSON.stringify(errors));
      assert.equal(errors[0]!.type, type);
      assert.equal(errors[0]!.field, field);
      if (message) assert.match(errors[0]!.message, message);
    });
  }

  it('refuses a name that cannot name a Service and a StatefulSet', () => {
    for (const name of ['Orders', '1orders', 'a'.repeat(53)]) {
      const errors = def.validate(defaulted({ engine: 'postgres' }, name));
      assert.equal(errors[0]?.field, 'metadata.name', name);
    }
    assert.deepEqual(def.validate(defaulted({ engine: 'postgres' }, 'a'.repeat(52))), []);
  });

  it('refuses a bad condition in status', () => {
    const obj = defaulted({ engine: 'postgres' });
    obj.status = { conditions: [{ type: 'Ready', status: 'Maybe', reason: 'not camel case', message: '', lastTransitionTime: 'now' }] };
    const fields = def.validate(obj).map((e) => `${e.field} ${e.type}`).sort();
    assert.deepEqual(fields, [
      'status.conditions[0].lastTransitionTime FieldValueInvalid',
      'status.conditions[0].reason FieldValueInvalid',
      'status.conditions[0].status FieldValueNotSupported',
    ]);
  });

  it('refuses two conditions of one type', () => {
    const obj = defaulted({ engine: 'postgres' });
    const condition = { type: 'Ready', status: 'True', reason: 'Ok', message: '', lastTransitionTime: '2025-01-01T00:00:00Z' };
    obj.status = { conditions: [condition, { ...condition, status: 'False' }] };
    assert.deepEqual(def.validate(obj), [{ type: 'FieldValueDuplicate', field: 'status.conditions[1]', message: 'Duplicate value: {"type":"Ready"}' }]);
  });
});

describe('cronError', () => {
  it('accepts 5-field expressions and macros only', () => {
    assert.equal(cronError('*/15 2-5 * * MON-FRI'), undefined);
    assert.equal(cronError('@hourly'), undefined);
    assert.match(cronError('@reboot') ?? '', /5 fields/);
    assert.match(cronError('a b c d e') ?? '', /not a valid cron expression/);
  });
});

describe('Database updates', () => {
  const old = defaulted({ engine: 'postgres', version: '16', storage: { size: '10Gi', storageClassName: 'fast' } });
  const update = (patch: (spec: any) => void) => {
    const next = structuredClone(old);
    patch(next.spec);
    return def.validateUpdate(next, old);
  };

  const allowed: [string, (spec: any) => void][] = [
    ['no change', () => {}],
    ['growing the volume', (s) => (s.storage.size = '20Gi')],
    ['the same size spelled differently', (s) => (s.storage.size = '10240Mi')],
    ['a major upgrade', (s) => (s.version = '17')],
    ['a minor change within the major', (s) => (s.version = '16.1')],
    ['scaling', (s) => (s.replicas = 3)],
  ];
  for (const [name, patch] of allowed) {
    it(`allows ${name}`, () => assert.deepEqual(update(patch), []));
  }

  const refused: [string, (spec: any) => void, string, string, RegExp][] = [
    ['changing the engine', (s) => (s.engine = 'redis'), 'FieldValueInvalid', 'spec.engine', /^Invalid value: "redis": field is immutable$/],
    ['shrinking the volume', (s) => (s.storage.size = '5Gi'), 'FieldValueForbidden', 'spec.storage.size', /smaller than the current size 10Gi/],
    ['changing the storage class', (s) => (s.storage.storageClassName = 'slow'), 'FieldValueInvalid', 'spec.storage.storageClassName', /immutable/],
    ['downgrading the major', (s) => (s.version = '15'), 'FieldValueForbidden', 'spec.version', /downgrading postgres from 16 to 15 is not supported/],
  ];
  for (const [name, patch, type, field, message] of refused) {
    it(`refuses ${name}`, () => {
      const errors = update(patch);
      assert.equal(errors.length, 1, JSON.stringify(errors));
      assert.equal(errors[0]!.type, type);
      assert.equal(errors[0]!.field, field);
      assert.match(errors[0]!.message, message);
    });
  }

  it('compares redis majors as major.minor', () => {
    const redis = defaulted({ engine: 'redis', version: '7.2' });
    const next = structuredClone(redis);
    next.spec.version = '7.0.15';
    assert.equal(def.validateUpdate(next, redis)[0]?.field, 'spec.version');
    next.spec.version = '7.4';
    assert.deepEqual(def.validateUpdate(next, redis), []);
  });
});

describe('Database warnings', () => {
  it('warns about unbounded schedules and unencrypted s3 archives', () => {
    assert.deepEqual(def.warnings(defaulted({ engine: 'postgres' })), []);
    const obj = withSpec((s) => Object.assign(s.backup, { schedule: '@daily', repository: { s3: { bucket: 'bkp', credentialsSecret: 's' } } }));
    const warnings = def.warnings(obj);
    assert.equal(warnings.length, 2);
    assert.match(warnings[0]!, /retention/);
    assert.match(warnings[1]!, /unencrypted/);
  });
});

describe('Database actions', () => {
  const parent = defaulted({ engine: 'postgres' });
  const { backup, restore } = def.subresources.actions;

  it('declares backup and restore', () => {
    assert.deepEqual(
      { creates: backup!.creates, kind: backup!.kind, bodyRequired: backup!.bodyRequired },
      { creates: 'backups', kind: 'Backup', bodyRequired: false },
    );
    assert.deepEqual(
      { creates: restore!.creates, kind: restore!.kind, bodyRequired: restore!.bodyRequired },
      { creates: 'restores', kind: 'Restore', bodyRequired: true },
    );
  });

  it('builds a Backup from an empty body', () => {
    assert.deepEqual(backup!.build(parent, undefined), {
      apiVersion: 'strongroom.dev/v1alpha1',
      kind: 'Backup',
      metadata: { generateName: 'orders-', namespace: 'shop', labels: { 'strongroom.dev/database': 'orders' } },
      spec: { databaseName: 'orders', trigger: 'Manual', method: 'dump' },
    });
  });

  it('keeps what the body says', () => {
    const body: KubeObject = {
      apiVersion: 'strongroom.dev/v1alpha1',
      kind: 'Backup',
      metadata: { name: 'before-migration', labels: { team: 'shop' } },
      spec: { databaseName: 'orders', method: 'basebackup', hold: true, trigger: 'PreUpgrade' },
    };
    const built = backup!.build(parent, body);
    assert.deepEqual(built.metadata, { name: 'before-migration', namespace: 'shop', labels: { team: 'shop', 'strongroom.dev/database': 'orders' } });
    assert.deepEqual(built.spec, { databaseName: 'orders', method: 'basebackup', hold: true, trigger: 'PreUpgrade' });
    assert.equal(body.metadata.namespace, undefined, 'the body is not modified');
  });

  it('respects a generateName of the body', () => {
    const built = backup!.build(parent, { apiVersion: '', kind: 'Backup', metadata: { generateName: 'nightly-' } });
    assert.equal(built.metadata.generateName, 'nightly-');
  });

  const refused: [string, () => KubeObject, number, string | undefined][] = [
    ['another database', () => backup!.build(parent, { apiVersion: '', kind: 'Backup', metadata: {}, spec: { databaseName: 'users' } }), 422, 'spec.databaseName'],
    ['a method of another engine', () => backup!.build(parent, { apiVersion: '', kind: 'Backup', metadata: {}, spec: { method: 'rdb' } }), 422, 'spec.method'],
    ['another namespace', () => backup!.build(parent, { apiVersion: '', kind: 'Backup', metadata: { namespace: 'other' } }), 400, undefined],
    ['a restore without backup', () => restore!.build(parent, undefined), 422, 'spec.backupName'],
    [
      'a restore of another database',
      () => restore!.build(parent, { apiVersion: '', kind: 'Restore', metadata: {}, spec: { databaseName: 'users', backupName: 'b' } }),
      422,
      'spec.databaseName',
    ],
  ];
  for (const [name, build, code, field] of refused) {
    it(`refuses ${name}`, () => {
      assert.throws(build, (e: unknown) => {
        assert.ok(e instanceof StatusError);
        assert.equal(e.code, code);
        assert.equal(e.details?.causes?.[0]?.field, field);
        return true;
      });
    });
  }

  it('builds a Restore', () => {
    const built = restore!.build(parent, { apiVersion: 'strongroom.dev/v1alpha1', kind: 'Restore', metadata: {}, spec: { backupName: 'orders-abc12' } });
    assert.deepEqual(built, {
      apiVersion: 'strongroom.dev/v1alpha1',
      kind: 'Restore',
      metadata: { generateName: 'orders-', namespace: 'shop', labels: { 'strongroom.dev/database': 'orders' } },
      spec: { backupName: 'orders-abc12', databaseName: 'orders' },
    });
  });
});

/** Whether `.a.b.c` names a field the schema declares (metadata fields are ObjectMeta's). */
function declared(schema: JSONSchemaProps, jsonPath: string): boolean {
  const [first, ...rest] = jsonPath.split('.').slice(1);
  if (first === 'metadata') return true;
  let node: JSONSchemaProps | undefined = schema.properties?.[first!];
  for (const segment of rest) node = node?.properties?.[segment];
  return node !== undefined;
}

describe('Database printing and selection', () => {
  it('declares every column and selectable field path in the schema', () => {
    for (const column of def.printerColumns) assert.ok(declared(def.schema, column.jsonPath), column.jsonPath);
    for (const field of Object.keys(def.selectableFields)) assert.ok(declared(def.schema, `.${field}`), field);
  });

  it('has the columns kubectl get shows, wide ones last', () => {
    assert.deepEqual(
      def.printerColumns.map((c) => `${c.name.toUpperCase()}${c.priority ? '(wide)' : ''}`),
      ['ENGINE', 'VERSION', 'READY', 'PHASE', 'LAST-BACKUP', 'ENDPOINT(wide)', 'NEXT-BACKUP(wide)', 'STORAGE(wide)'],
    );
  });

  it('prints READY as ready/desired', () => {
    const ready = def.printerColumns.find((c) => c.name === 'Ready')!;
    const obj = withSpec((s) => (s.replicas = 3));
    assert.equal(ready.cell!(obj), '0/3');
    obj.status = { readyReplicas: 2 };
    assert.equal(ready.cell!(obj), '2/3');
  });

  it('selects by engine and phase', () => {
    const obj = defaulted({ engine: 'redis' });
    obj.status = { phase: 'Ready' };
    assert.equal(def.selectableFields['spec.engine']!(obj), 'redis');
    assert.equal(def.selectableFields['status.phase']!(obj), 'Ready');
  });

  it('maps scale onto spec.replicas and status', () => {
    assert.deepEqual(def.subresources.scale, {
      specReplicasPath: '.spec.replicas',
      statusReplicasPath: '.status.replicas',
      labelSelectorPath: '.status.selector',
    });
    for (const path of Object.values(def.subresources.scale!)) assert.ok(declared(def.schema, path), path);
  });
});
