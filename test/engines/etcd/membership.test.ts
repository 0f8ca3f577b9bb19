import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Member } from '../../../src/engines/engine.ts';
import type { MembershipStep } from '../../../src/engines/engine.ts';
import { membershipJob, planMembership } from '../../../src/engines/etcd/membership.ts';
import { quorum } from '../../../src/engines/etcd/render.ts';
import { configData, container, database, envValue, find, podSpec, render } from '../fixtures.ts';
import { runScript } from '../scripts.ts';

const voter = (ordinal: number, healthy = true): Member => ({ name: `orders-${ordinal}`, learner: false, healthy });
const learner = (ordinal: number, healthy = true): Member => ({ name: `orders-${ordinal}`, learner: true, healthy });
const peer = (ordinal: number) => `http://orders-${ordinal}.orders-headless.shop.svc.cluster.local:2380`;

describe('planMembership', () => {
  it('knows the quorum', () => {
    assert.deepEqual([1, 2, 3, 4, 5, 7].map(quorum), [1, 2, 2, 3, 3, 4]);
  });

  /** Plays the controller: carry out each step, let learners start, until the plan says none. */
  function scale(members: Member[], desired: number): { steps: string[]; members: Member[] } {
    const steps: string[] = [];
    for (let i = 0; i < 20; i++) {
      const step = planMembership(database('etcd'), members, desired);
      if (step.action === 'none') return { steps, members };
      if (step.action === 'wait') {
        const starting = members.find((m) => m.learner && !m.healthy);
        if (!starting) throw new Error(`stuck: ${step.reason}`);
        steps.push(`wait ${starting.name}`);
        starting.healthy = true;
        continue;
      }
      steps.push(`${step.action} ${step.member}`);
      if (step.action === 'add') members = [...members, learner(Number(step.member.split('-')[1]), false)];
      if (step.action === 'promote') members = members.map((m) => (m.name === step.member ? { ...m, learner: false } : m));
      if (step.action === 'remove') members = members.filter((m) => m.name !== step.member);
    }
    throw new Error('no end to the plan');
  }

  it('scales 1 → 3 → 5 → 3 → 1 one member at a time', () => {
    let members = [voter(0)];
    const up3 = scale(members, 3);
    assert.deepEqual(up3.steps, ['add orders-1', 'wait orders-1', 'promote orders-1', 'add orders-2', 'wait orders-2', 'promote orders-2']);
    const up5 = scale(up3.members, 5);
    assert.deepEqual(up5.steps, ['add orders-3', 'wait orders-3', 'promote orders-3', 'add orders-4', 'wait orders-4', 'promote orders-4']);
    const down3 = scale(up5.members, 3);
    assert.deepEqual(down3.steps, ['remove orders-4', 'remove orders-3']);
    members = scale(down3.members, 1).members;
    assert.deepEqual(members, [voter(0)]);
  });

  const table: [string, Member[], number, MembershipStep][] = [
    ['nothing to do', [voter(0), voter(1), voter(2)], 3, { action: 'none' }],
    ['adds the next ordinal as a learner', [voter(0), voter(1), voter(2)], 5, { action: 'add', member: 'orders-3' }],
    ['waits for a learner to start', [voter(0), learner(1, false)], 3, { action: 'wait', reason: 'learner orders-1 has not started yet' }],
    ['promotes a started learner', [voter(0), learner(1)], 3, { action: 'promote', member: 'orders-1' }],
    ['removes a learner no longer wanted', [voter(0), voter(1), voter(2), learner(3, false)], 3, { action: 'remove', member: 'orders-3' }],
    ['removes the highest ordinal first', [voter(2), voter(0), voter(1)], 1, { action: 'remove', member: 'orders-2' }],
    ['removes an unhealthy top member when the rest keep a quorum', [voter(0), voter(1), voter(2, false)], 1, { action: 'remove', member: 'orders-2' }],
    [
      'refuses to change anything without a healthy quorum',
      [voter(0), voter(1, false), voter(2, false)],
      5,
      { action: 'wait', reason: '1 of 3 voting members are healthy, short of a quorum of 2' },
    ],
    [
      'refuses a removal that would leave too few healthy voters',
      [voter(0, false), voter(1), voter(2)],
      1,
      { action: 'wait', reason: 'removing orders-2 would leave 1 healthy of 2 voting members, short of a quorum of 2' },
    ],
    [
      'refuses to promote while the voters lack a quorum',
      [voter(0), voter(1, false), learner(2)],
      3,
      { action: 'wait', reason: '1 of 2 voting members are healthy, short of a quorum of 2' },
    ],
    ['cannot act on an empty cluster', [], 3, { action: 'wait', reason: 'the cluster has no members: it has to be bootstrapped' }],
  ];
  for (const [name, members, desired, step] of table) {
    it(name, () => {
      assert.deepEqual(planMembership(database('etcd'), members, desired), step);
    });
  }
});

const MEMBER_LIST = [
  '8e9e05c52164694d, started, orders-0, http://orders-0.orders-headless.shop.svc.cluster.local:2380, http://orders-0.orders-headless.shop.svc.cluster.local:2379, false',
  '91bc3c398fb3c146, unstarted, , http://orders-1.orders-headless.shop.svc.cluster.local:2380, , true',
  'fd422379fda50e48, started, orders-2, http://orders-2.orders-headless.shop.svc.cluster.local:2380, http://orders-2.orders-headless.shop.svc.cluster.local:2379, false',
].join('\n');

describe('membershipJob', () => {
  it('is a Job named after the step, a client of the database, running etcdctl as root', () => {
    const job = membershipJob(database('etcd'), { action: 'add', member: 'orders-3' });
    assert.equal(job.metadata.name, 'orders-add-3');
    assert.equal(job.metadata.labels?.['app.kubernetes.io/component'], 'membership');
    assert.equal(job.spec.template.metadata.labels['strongroom.dev/client-of'], 'orders');
    const c = job.spec.template.spec.containers[0];
    assert.equal(c.image, 'registry.k8s.io/etcd:3.5.21-0');
    assert.equal(envValue(c, 'ETCDCTL_ENDPOINTS'), 'http://orders.shop.svc.cluster.local:2379');
    assert.equal(envValue(c, 'ETCDCTL_USER'), 'root:$(ETCD_ROOT_PASSWORD)');
    assert.ok(c.env.findIndex((e: any) => e.name === 'ETCD_ROOT_PASSWORD') < c.env.findIndex((e: any) => e.name === 'ETCDCTL_USER'));
    assert.equal(envValue(c, 'PEER_URL'), peer(3));
    assert.equal(job.spec.template.spec.restartPolicy, 'Never');
  });

  const etcdctl = `if [ "$1 $2" = "member list" ]; then [ -n "$LIST" ] || exit 1; printf '%s\\n' "$LIST"; fi`;
  const cases: [string, Extract<MembershipStep, { member: string }>, string, number, string[]][] = [
    ['adds a member that is not there', { action: 'add', member: 'orders-3' }, MEMBER_LIST, 0, ['etcdctl member list', `etcdctl member add orders-3 --learner --peer-urls=${peer(3)}`]],
    ['leaves a member already added (not started, so without a name)', { action: 'add', member: 'orders-1' }, MEMBER_LIST, 0, ['etcdctl member list']],
    ['promotes a learner by its ID', { action: 'promote', member: 'orders-1' }, MEMBER_LIST, 0, ['etcdctl member list', 'etcdctl member promote 91bc3c398fb3c146']],
    ['leaves a voter promoted', { action: 'promote', member: 'orders-2' }, MEMBER_LIST, 0, ['etcdctl member list']],
    ['fails to promote a member that is not there', { action: 'promote', member: 'orders-4' }, MEMBER_LIST, 1, ['etcdctl member list']],
    ['removes a member by its ID', { action: 'remove', member: 'orders-2' }, MEMBER_LIST, 0, ['etcdctl member list', 'etcdctl member remove fd422379fda50e48']],
    ['leaves a member already removed', { action: 'remove', member: 'orders-4' }, MEMBER_LIST, 0, ['etcdctl member list']],
    ['fails when the cluster does not answer', { action: 'remove', member: 'orders-2' }, '', 1, ['etcdctl member list']],
  ];
  for (const [name, step, list, status, calls] of cases) {
    it(`${name} (bash as the image's sh)`, () => {
      const c = membershipJob(database('etcd'), step).spec.template.spec.containers[0];
      const env = Object.fromEntries(c.env.filter((e: any) => e.value !== undefined).map((e: any) => [e.name, e.value]));
      const run = runScript('bash', c.command[2], { ...env, LIST: list }, { etcdctl });
      assert.equal(run.status, status, run.stderr);
      assert.deepEqual(run.calls, calls);
    });
  }
});
