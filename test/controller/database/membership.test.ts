import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Database } from '../../../src/api/database.ts';
import type { KubeObject } from '../../../src/api/meta.ts';
import {
  bootstrap,
  encodeMembers,
  MEMBERS_ANNOTATION,
  membershipProgress,
  planMembershipWork,
  recordedMembers,
  recordStep,
  stepOfJob,
  type RecordedMember,
} from '../../../src/controller/database/membership.ts';
import { etcd } from '../../../src/engines/etcd/index.ts';

const hooks = etcd.membership!;

function database(replicas: number, members?: RecordedMember[]): Database {
  return {
    apiVersion: 'strongroom.dev/v1alpha1',
    kind: 'Database',
    metadata: { name: 'kv', namespace: 'shop', uid: 'u1', ...(members ? { annotations: { [MEMBERS_ANNOTATION]: encodeMembers(members) } } : {}) },
    spec: { engine: 'etcd', version: '3.5', replicas },
  };
}

const voter = (n: number): RecordedMember => ({ name: `kv-${n}`, learner: false });
const learner = (n: number): RecordedMember => ({ name: `kv-${n}`, learner: true });

function pod(n: number, state: 'ready' | 'running' | 'pending'): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `kv-${n}`, namespace: 'shop' },
    status: {
      phase: state === 'pending' ? 'Pending' : 'Running',
      conditions: [{ type: 'Ready', status: state === 'ready' ? 'True' : 'False' }],
    },
  };
}

function job(name: string, outcome?: 'Complete' | 'Failed'): KubeObject {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace: 'shop', labels: { 'app.kubernetes.io/component': 'membership', 'strongroom.dev/database': 'kv' } },
    status: outcome ? { conditions: [{ type: outcome, status: 'True' }] } : {},
  };
}

describe('the membership record', () => {
  it('round-trips through the annotation, lowest ordinal first', () => {
    const db = database(3, [voter(2), learner(10), voter(0)]);
    assert.deepEqual(recordedMembers(db), [voter(0), voter(2), learner(10)]);
    assert.equal(recordedMembers(database(3)), undefined);
  });

  it('refuses an annotation that is not a list of members', () => {
    const db = database(1);
    db.metadata.annotations = { [MEMBERS_ANNOTATION]: '[]' };
    assert.throws(() => recordedMembers(db), /not a list of members/);
  });

  const steps: Array<{ name: string; before: RecordedMember[]; step: Parameters<typeof recordStep>[1]; after: RecordedMember[] }> = [
    { name: 'add makes a learner', before: [voter(0)], step: { action: 'add', member: 'kv-1' }, after: [voter(0), learner(1)] },
    { name: 'add of a known member changes nothing (a Job seen twice)', before: [voter(0), voter(1)], step: { action: 'add', member: 'kv-1' }, after: [voter(0), voter(1)] },
    { name: 'promote makes a voter', before: [voter(0), learner(1)], step: { action: 'promote', member: 'kv-1' }, after: [voter(0), voter(1)] },
    { name: 'remove drops the member', before: [voter(0), voter(1)], step: { action: 'remove', member: 'kv-1' }, after: [voter(0)] },
    { name: 'remove of an unknown member changes nothing', before: [voter(0)], step: { action: 'remove', member: 'kv-1' }, after: [voter(0)] },
  ];
  for (const c of steps) {
    it(`recordStep: ${c.name}`, () => assert.deepEqual(recordStep(c.before, c.step), c.after));
  }
});

describe('bootstrap', () => {
  const sts = (replicas: number): KubeObject => ({ apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'kv' }, spec: { replicas } });

  it('records the initial members once a quorum of them is ready', () => {
    assert.deepEqual(bootstrap(hooks, database(3), sts(3), [pod(0, 'ready'), pod(1, 'ready'), pod(2, 'pending')]), { size: 3, formed: [voter(0), voter(1), voter(2)] });
    assert.deepEqual(bootstrap(hooks, database(3), sts(3), [pod(0, 'ready'), pod(1, 'running')]), { size: 3, formed: undefined });
  });

  it('keeps the size the StatefulSet started with when spec.replicas changes during bootstrap', () => {
    assert.equal(bootstrap(hooks, database(5), sts(3), []).size, 3);
    assert.deepEqual(bootstrap(hooks, database(5), undefined, []), { size: 5, formed: undefined });
  });
});

describe('stepOfJob', () => {
  it('reads the step from a membership Job of this Database only', () => {
    const db = database(3);
    assert.deepEqual(stepOfJob(db, job('kv-add-3')), { action: 'add', member: 'kv-3' });
    assert.deepEqual(stepOfJob(db, job('kv-remove-0')), { action: 'remove', member: 'kv-0' });
    assert.equal(stepOfJob(db, job('kv-init')), undefined);
    assert.equal(stepOfJob(db, job('kv-other-add-3')), undefined);
    const init = job('kv-add-3');
    init.metadata.labels!['app.kubernetes.io/component'] = 'init';
    assert.equal(stepOfJob(db, init), undefined);
  });
});

describe('planMembershipWork', () => {
  it('starts with adding a learner when scaling up', () => {
    const plan = planMembershipWork(hooks, database(3, [voter(0)]), [voter(0)], [pod(0, 'ready')], []);
    assert.deepEqual(plan.next, { action: 'add', member: 'kv-1' });
    assert.equal(plan.job?.metadata.name, 'kv-add-1');
    assert.equal(plan.inFlight, false);
    assert.equal(membershipProgress(plan), 'adding member kv-1');
  });

  it('records a finished Job before planning: a completed add leads to waiting for the learner to start', () => {
    const plan = planMembershipWork(hooks, database(3, [voter(0)]), [voter(0)], [pod(0, 'ready')], [job('kv-add-1', 'Complete')]);
    assert.deepEqual(plan.finished.map((f) => [f.job.metadata.name, f.state]), [['kv-add-1', 'complete']]);
    assert.equal(plan.next.action, 'wait');
    assert.equal(plan.job, undefined);
  });

  it('promotes a learner that runs, and does not start a Job whose namesake still exists', () => {
    const members = [voter(0), learner(1)];
    const running = planMembershipWork(hooks, database(3, members), members, [pod(0, 'ready'), pod(1, 'running')], [job('kv-promote-1')]);
    assert.deepEqual(running.next, { action: 'promote', member: 'kv-1' });
    assert.equal(running.inFlight, true);
    assert.deepEqual(running.finished, []);
  });

  it('reports a failed Job to be deleted, and plans the same step again', () => {
    const plan = planMembershipWork(hooks, database(3, [voter(0)]), [voter(0)], [pod(0, 'ready')], [job('kv-add-1', 'Failed')]);
    assert.deepEqual(plan.finished.map((f) => f.state), ['failed']);
    assert.deepEqual(plan.next, { action: 'add', member: 'kv-1' });
    assert.equal(plan.inFlight, true, 'the failed Job of that name goes first');
  });

  it('removes from the highest ordinal when scaling down, and has nothing to do once settled', () => {
    const three = [voter(0), voter(1), voter(2)];
    const pods = [pod(0, 'ready'), pod(1, 'ready'), pod(2, 'ready')];
    assert.deepEqual(planMembershipWork(hooks, database(1, three), three, pods, []).next, { action: 'remove', member: 'kv-2' });
    const settled = planMembershipWork(hooks, database(3, three), three, pods, []);
    assert.deepEqual(settled.next, { action: 'none' });
    assert.equal(membershipProgress(settled), undefined);
  });
});
