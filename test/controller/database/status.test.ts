import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Database, DatabaseStatus } from '../../../src/api/database.ts';
import type { KubeObject } from '../../../src/api/meta.ts';
import { findCondition } from '../../../src/controller/conditions.ts';
import { databaseStatus, deletingStatus, pausedStatus, transitionEvents, type StatusInput } from '../../../src/controller/database/status.ts';

const NOW = '2026-01-01T00:00:00.000Z';
const PUBLISHED = { selector: 'a=b', endpoints: { primary: 'orders.shop.svc.cluster.local:5432' }, connectionSecret: 'orders-connection' };

function database(replicas: number, status?: DatabaseStatus): Database {
  return {
    apiVersion: 'strongroom.dev/v1alpha1',
    kind: 'Database',
    metadata: { name: 'orders', namespace: 'shop', generation: 4 },
    spec: { engine: 'postgres', version: '17.2', replicas },
    ...(status ? { status } : {}),
  };
}

interface Workload {
  spec: number;
  replicas?: number;
  ready?: number;
  updated?: number;
  /** The StatefulSet controller has not seen the newest spec. */
  stale?: boolean;
  rolling?: boolean;
}

function statefulSet(w: Workload): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: 'orders', namespace: 'shop', generation: 2 },
    spec: { replicas: w.spec },
    status: {
      observedGeneration: w.stale ? 1 : 2,
      replicas: w.replicas ?? w.spec,
      readyReplicas: w.ready ?? w.spec,
      updatedReplicas: w.updated ?? w.spec,
      currentRevision: 'orders-a',
      updateRevision: w.rolling ? 'orders-b' : 'orders-a',
    },
  };
}

const ranBefore: DatabaseStatus = { currentVersion: '17.1' };

interface Case {
  name: string;
  input: Partial<StatusInput> & { db: Database };
  phase: string;
  ready: [string, string];
  progressing: [string, string];
  degraded?: [string, string];
  currentVersion: string | undefined;
}

const cases: Case[] = [
  {
    name: 'no StatefulSet yet: provisioning',
    input: { db: database(1) },
    phase: 'Provisioning',
    ready: ['False', 'MembersNotReady'],
    progressing: ['True', 'Provisioning'],
    degraded: ['False', 'AsExpected'],
    currentVersion: undefined,
  },
  {
    name: 'first members not ready yet: still provisioning, never degraded',
    input: { db: database(3), statefulSet: statefulSet({ spec: 3, ready: 1 }) },
    phase: 'Provisioning',
    ready: ['False', 'MembersNotReady'],
    progressing: ['True', 'Provisioning'],
    degraded: ['False', 'AsExpected'],
    currentVersion: undefined,
  },
  {
    name: 'every member ready on the current template: Ready, and currentVersion is what was rendered',
    input: { db: database(3), statefulSet: statefulSet({ spec: 3 }) },
    phase: 'Ready',
    ready: ['True', 'MembersReady'],
    progressing: ['False', 'UpToDate'],
    degraded: ['False', 'AsExpected'],
    currentVersion: '17.2',
  },
  {
    name: 'scaling up after having been ready',
    input: { db: database(3, ranBefore), statefulSet: statefulSet({ spec: 1 }) },
    phase: 'Updating',
    ready: ['False', 'MembersNotReady'],
    progressing: ['True', 'Scaling'],
    degraded: ['False', 'AsExpected'],
    currentVersion: '17.1',
  },
  {
    name: 'pods still coming after the StatefulSet was scaled',
    input: { db: database(3, ranBefore), statefulSet: statefulSet({ spec: 3, replicas: 2, ready: 2, updated: 2 }) },
    phase: 'Updating',
    ready: ['False', 'MembersNotReady'],
    progressing: ['True', 'Scaling'],
    currentVersion: '17.1',
  },
  {
    name: 'rolling a new template: Updating, not Degraded, and currentVersion waits',
    input: { db: database(3, ranBefore), statefulSet: statefulSet({ spec: 3, ready: 2, updated: 1, rolling: true }) },
    phase: 'Updating',
    ready: ['False', 'MembersNotReady'],
    progressing: ['True', 'RollingUpdate'],
    degraded: ['False', 'AsExpected'],
    currentVersion: '17.1',
  },
  {
    name: 'a spec the StatefulSet controller has not seen yet counts as rolling',
    input: { db: database(3, ranBefore), statefulSet: statefulSet({ spec: 3, stale: true }) },
    phase: 'Updating',
    ready: ['False', 'MembersNotReady'],
    progressing: ['True', 'RollingUpdate'],
    currentVersion: '17.1',
  },
  {
    name: 'a member down with nothing changing: Degraded',
    input: { db: database(3, ranBefore), statefulSet: statefulSet({ spec: 3, ready: 2 }) },
    phase: 'Degraded',
    ready: ['False', 'MembersNotReady'],
    progressing: ['False', 'UpToDate'],
    degraded: ['True', 'MembersUnavailable'],
    currentVersion: '17.1',
  },
  {
    name: 'a refused major upgrade: still Ready on the old version, Progressing False with the reason',
    input: { db: database(1, ranBefore), statefulSet: statefulSet({ spec: 1 }), renderedVersion: '17.1', refusedVersion: '18' },
    phase: 'Ready',
    ready: ['True', 'MembersReady'],
    progressing: ['False', 'MajorUpgradeRequiresBackup'],
    currentVersion: '17.1',
  },
  {
    name: 'a spec the engine refuses: Failed',
    input: { db: database(1, ranBefore), statefulSet: statefulSet({ spec: 1 }), published: undefined, invalid: 'spec.parameters.port: Forbidden' },
    phase: 'Failed',
    ready: ['False', 'InvalidSpec'],
    progressing: ['False', 'InvalidSpec'],
    currentVersion: '17.1',
  },
  {
    name: 'members ready, first-time setup not done: Initializing',
    input: { db: database(1), statefulSet: statefulSet({ spec: 1 }), init: { state: 'running', jobName: 'orders-init' } },
    phase: 'Provisioning',
    ready: ['False', 'Initializing'],
    progressing: ['True', 'Initializing'],
    currentVersion: undefined,
  },
  {
    name: 'first-time setup failed: Degraded with how to retry',
    input: { db: database(1, ranBefore), statefulSet: statefulSet({ spec: 1 }), init: { state: 'failed', jobName: 'orders-init' } },
    phase: 'Degraded',
    ready: ['False', 'MembersNotReady'],
    progressing: ['False', 'UpToDate'],
    degraded: ['True', 'InitJobFailed'],
    currentVersion: '17.1',
  },
  {
    name: 'etcd membership under way',
    input: { db: database(3, ranBefore), statefulSet: statefulSet({ spec: 2 }), membership: 'adding member orders-2' },
    phase: 'Updating',
    ready: ['False', 'MembersNotReady'],
    progressing: ['True', 'MembershipChange'],
    currentVersion: '17.1',
  },
];

describe('databaseStatus', () => {
  for (const c of cases) {
    it(c.name, () => {
      const status = databaseStatus({ now: NOW, statefulSet: undefined, published: PUBLISHED, renderedVersion: '17.2', ...c.input });
      const pair = (type: string) => {
        const condition = findCondition(status.conditions, type);
        assert.equal(condition?.observedGeneration, 4, `${type} observedGeneration`);
        return [condition?.status, condition?.reason];
      };
      assert.equal(status.phase, c.phase);
      assert.deepEqual(pair('Ready'), c.ready);
      assert.deepEqual(pair('Progressing'), c.progressing);
      if (c.degraded) assert.deepEqual(pair('Degraded'), c.degraded);
      assert.equal(status.currentVersion, c.currentVersion);
      assert.equal(status.observedGeneration, 4);
    });
  }

  it('reports replicas and readyReplicas from the StatefulSet and what the engine published', () => {
    const status = databaseStatus({ db: database(3), now: NOW, statefulSet: statefulSet({ spec: 3, replicas: 3, ready: 2 }), published: PUBLISHED, renderedVersion: '17.2' });
    assert.equal(status.replicas, 3);
    assert.equal(status.readyReplicas, 2);
    assert.equal(status.selector, PUBLISHED.selector);
    assert.deepEqual(status.endpoints, PUBLISHED.endpoints);
    assert.equal(status.connectionSecret, PUBLISHED.connectionSecret);
  });

  it('keeps lastTransitionTime while nothing flips, and what other controllers wrote', () => {
    const first = databaseStatus({ db: database(1), now: NOW, statefulSet: statefulSet({ spec: 1 }), published: PUBLISHED, renderedVersion: '17.2' });
    const backup = { lastBackup: { name: 'orders-x', completionTime: NOW } };
    const again = databaseStatus({
      db: database(1, { ...first, ...backup }),
      now: '2026-01-02T00:00:00.000Z',
      statefulSet: statefulSet({ spec: 1 }),
      published: PUBLISHED,
      renderedVersion: '17.2',
    });
    assert.deepEqual(again, { ...first, ...backup });
  });
});

describe('status.image', () => {
  it('moves to the rendered image once the members run it, and stays while they roll', () => {
    const before: DatabaseStatus = { currentVersion: '17.1', image: 'registry.example/postgres:17.1' };
    const input = { now: NOW, published: PUBLISHED, renderedVersion: '17.2', renderedImage: 'registry.example/postgres:17.2' };
    const rolling = databaseStatus({ ...input, db: database(3, before), statefulSet: statefulSet({ spec: 3, ready: 2, updated: 1, rolling: true }) });
    assert.equal(rolling.image, 'registry.example/postgres:17.1');
    const rolled = databaseStatus({ ...input, db: database(3, before), statefulSet: statefulSet({ spec: 3 }) });
    assert.equal(rolled.image, 'registry.example/postgres:17.2');
  });
});

describe('pausedStatus and deletingStatus', () => {
  it('a paused Database says so and keeps its other conditions', () => {
    const ready = databaseStatus({ db: database(1), now: NOW, statefulSet: statefulSet({ spec: 1 }), published: PUBLISHED, renderedVersion: '17.2' });
    const paused = pausedStatus(database(3, ready), statefulSet({ spec: 1 }), NOW);
    assert.equal(paused.phase, 'Paused');
    assert.equal(findCondition(paused.conditions, 'Progressing')?.reason, 'Paused');
    assert.deepEqual(findCondition(paused.conditions, 'Ready'), findCondition(ready.conditions, 'Ready'));
  });

  it('a Database being deleted is not Ready', () => {
    const status = deletingStatus(database(1), NOW, 'deletionPolicy Delete');
    assert.equal(status.phase, 'Deleting');
    assert.deepEqual([findCondition(status.conditions, 'Ready')?.status, findCondition(status.conditions, 'Ready')?.reason], ['False', 'Deleting']);
  });
});

describe('transitionEvents', () => {
  const status = (ready: 'True' | 'False', progressing: string, degraded = 'AsExpected'): DatabaseStatus => ({
    conditions: [
      { type: 'Ready', status: ready, reason: ready === 'True' ? 'MembersReady' : 'MembersNotReady', message: 'r', lastTransitionTime: NOW },
      { type: 'Progressing', status: progressing === 'UpToDate' || progressing.startsWith('Major') || progressing === 'Paused' ? 'False' : 'True', reason: progressing, message: 'p', lastTransitionTime: NOW },
      { type: 'Degraded', status: degraded === 'AsExpected' ? 'False' : 'True', reason: degraded, message: 'd', lastTransitionTime: NOW },
    ],
  });
  const cases: Array<{ name: string; before: DatabaseStatus | undefined; after: DatabaseStatus; events: Array<[string, string]> }> = [
    { name: 'becoming ready', before: status('False', 'Provisioning'), after: status('True', 'UpToDate'), events: [['Normal', 'Ready']] },
    { name: 'nothing flipped', before: status('True', 'UpToDate'), after: status('True', 'UpToDate'), events: [] },
    { name: 'degraded', before: status('True', 'UpToDate'), after: status('False', 'UpToDate', 'MembersUnavailable'), events: [['Warning', 'MembersUnavailable']] },
    { name: 'a refused upgrade', before: status('True', 'UpToDate'), after: status('True', 'MajorUpgradeRequiresBackup'), events: [['Warning', 'MajorUpgradeRequiresBackup']] },
    { name: 'paused', before: status('True', 'UpToDate'), after: status('True', 'Paused'), events: [['Normal', 'Paused']] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.deepEqual(transitionEvents(c.before, c.after).map((e) => [e.type, e.reason]), c.events);
    });
  }
});
