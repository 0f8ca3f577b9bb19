import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Database } from '../../../src/api/database.ts';
import type { KubeObject } from '../../../src/api/meta.ts';
import { chooseVersion, VERSION_ANNOTATION, withVersion } from '../../../src/controller/database/version.ts';
import { engineFor } from '../../../src/engines/registry.ts';

function database(engine: 'postgres' | 'redis', version: string, currentVersion?: string): Database {
  return {
    apiVersion: 'strongroom.dev/v1alpha1',
    kind: 'Database',
    metadata: { name: 'orders', namespace: 'shop' },
    spec: { engine, version },
    ...(currentVersion ? { status: { currentVersion } } : {}),
  };
}

const sts = (version?: string): KubeObject => ({
  apiVersion: 'apps/v1',
  kind: 'StatefulSet',
  metadata: { name: 'orders', ...(version ? { annotations: { [VERSION_ANNOTATION]: version } } : {}) },
});

describe('chooseVersion', () => {
  const cases: Array<{ name: string; db: Database; statefulSet?: KubeObject; expected: ReturnType<typeof chooseVersion> }> = [
    { name: 'a new Database runs its spec', db: database('postgres', '17'), expected: { version: '17' } },
    { name: 'a patch release rolls', db: database('postgres', '17.2'), statefulSet: sts('17'), expected: { version: '17.2' } },
    { name: 'a redis minor of the same major.minor rolls', db: database('redis', '7.2.5'), statefulSet: sts('7.2'), expected: { version: '7.2.5' } },
    { name: 'a major upgrade is refused: the running version stays', db: database('postgres', '18'), statefulSet: sts('17.2'), expected: { version: '17.2', refused: '18' } },
    { name: 'redis 7.2 to 7.4 is a major change', db: database('redis', '7.4'), statefulSet: sts('7.2'), expected: { version: '7.2', refused: '7.4' } },
    {
      name: 'without a StatefulSet, the status says what runs (the data keeps its version)',
      db: database('postgres', '18', '17'),
      expected: { version: '17', refused: '18' },
    },
    { name: 'the StatefulSet wins over a status that lags behind a rollout', db: database('postgres', '17.3', '17.1'), statefulSet: sts('17.2'), expected: { version: '17.3' } },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(chooseVersion(engineFor(c.db.spec.engine), c.db, c.statefulSet), c.expected));
  }

  it('withVersion records the version on the StatefulSet, not its pod template', () => {
    const recorded = withVersion({ ...sts(), spec: { template: { metadata: {} } } }, '17.2');
    assert.deepEqual(recorded.metadata.annotations, { [VERSION_ANNOTATION]: '17.2' });
    assert.deepEqual(recorded.spec.template, { metadata: {} });
  });
});
