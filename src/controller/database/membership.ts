// Membership as the controller records and changes it, for engines with `MembershipHooks` (etcd; see
// src/engines/etcd/membership.ts for its rules).
//
// The record is the annotation `strongroom.dev/etcd-members` on the Database: the member names and which are learners,
// as JSON. It is written once the bootstrap members have formed a cluster, and after each membership Job succeeds.
// It lives on the Database rather than on a child so that deleting children by hand cannot make the controller forget
// the cluster it built (a forgotten record would bootstrap a new cluster). Health is never recorded: it is read from
// the member pods on every reconcile.
//
// A membership step is a Job named `<database>-<action>-<ordinal>`. A Job that succeeded is recorded whatever the
// current plan is (etcd has done it), then deleted; recording is idempotent, so a Job seen twice changes nothing.
import type { Database } from '../../api/database.ts';
import type { KubeObject } from '../../api/meta.ts';
import { memberName, ordinalOf } from '../../engines/common.ts';
import type { Member, MembershipHooks, MembershipStep } from '../../engines/engine.ts';
import { jobState, podReady, podRunning, type JobState } from './observed.ts';

export const MEMBERS_ANNOTATION = 'strongroom.dev/etcd-members';

export interface RecordedMember {
  name: string;
  learner: boolean;
}

type Step = Extract<MembershipStep, { member: string }>;

/** The recorded members, or undefined before the bootstrap members have formed a cluster. */
export function recordedMembers(db: Database): RecordedMember[] | undefined {
  const raw = db.metadata.annotations?.[MEMBERS_ANNOTATION];
  if (raw === undefined) return undefined;
  const parsed = JSON.parse(raw) as unknown;
  if (!Array.isArray(parsed) || parsed.length === 0) throw new Error(`annotation ${MEMBERS_ANNOTATION} is not a list of members: ${raw}`);
  return parsed.map((m: RecordedMember) => ({ name: String(m.name), learner: m.learner === true }));
}

export function encodeMembers(members: readonly RecordedMember[]): string {
  const sorted = [...members].sort((a, b) => (ordinalOf(a.name) ?? 0) - (ordinalOf(b.name) ?? 0));
  return JSON.stringify(sorted.map(({ name, learner }) => ({ name, learner })));
}

/** The recorded members with their health from the pods: a voter must be ready, a learner only running. */
export function withHealth(recorded: readonly RecordedMember[], pods: readonly KubeObject[]): Member[] {
  return recorded.map(({ name, learner }) => {
    const pod = pods.find((p) => p.metadata.name === name);
    return { name, learner, healthy: pod !== undefined && (learner ? podRunning(pod) : podReady(pod)) };
  });
}

/**
 * Bootstrap: the members the StatefulSet was started with (its replica count once it exists, so a spec change
 * during bootstrap does not change the initial cluster), and whether a quorum of them is ready, which makes them a
 * cluster worth recording.
 */
export function bootstrap(
  hooks: MembershipHooks,
  db: Database,
  statefulSet: KubeObject | undefined,
  pods: readonly KubeObject[],
): { size: number; formed: RecordedMember[] | undefined } {
  const size = typeof statefulSet?.spec?.replicas === 'number' ? (statefulSet.spec.replicas as number) : (db.spec.replicas ?? 1);
  const names = Array.from({ length: size }, (_, i) => memberName(db, i));
  const ready = names.filter((name) => pods.some((pod) => pod.metadata.name === name && podReady(pod))).length;
  return { size, formed: statefulSet && ready >= hooks.quorum(size) ? names.map((name) => ({ name, learner: false })) : undefined };
}

/** The step a membership Job of this Database carries out, from its name; undefined for other Jobs. */
export function stepOfJob(db: Database, job: KubeObject): Step | undefined {
  const prefix = `${db.metadata.name}-`;
  const name = job.metadata.name ?? '';
  if (!name.startsWith(prefix)) return undefined;
  const match = /^(add|promote|remove)-(0|[1-9][0-9]*)$/.exec(name.slice(prefix.length));
  if (!match || job.metadata.labels?.['app.kubernetes.io/component'] !== 'membership') return undefined;
  return { action: match[1] as Step['action'], member: memberName(db, Number(match[2])) };
}

/** The record after `step` succeeded. Idempotent: a step already reflected in the record changes nothing. */
export function recordStep(members: readonly RecordedMember[], step: Step): RecordedMember[] {
  const known = members.some((m) => m.name === step.member);
  switch (step.action) {
    case 'add':
      return known ? [...members] : [...members, { name: step.member, learner: true }];
    case 'promote':
      return members.map((m) => (m.name === step.member ? { ...m, learner: false } : m));
    case 'remove':
      return members.filter((m) => m.name !== step.member);
  }
}

export interface MembershipPlan {
  /** Jobs to act on first: a finished one is recorded (if it succeeded) and deleted before any new step starts. */
  finished: Array<{ job: KubeObject; step: Step; state: Exclude<JobState, 'running'> }>;
  /** The next step, given the record after the finished Jobs. */
  next: MembershipStep;
  /** The Job that carries out `next` (created unless it exists). */
  job?: KubeObject;
  /** A Job of that name still exists: running, or finished and about to be deleted (the new one comes after). */
  inFlight: boolean;
}

/** What to do about membership now: settle finished Jobs, then take at most one step towards spec.replicas. */
export function planMembershipWork(
  hooks: MembershipHooks,
  db: Database,
  recorded: readonly RecordedMember[],
  pods: readonly KubeObject[],
  jobs: readonly KubeObject[],
  /** The image the members run, which the Job runs too. */
  image?: string,
): MembershipPlan {
  const finished: MembershipPlan['finished'] = [];
  let record = [...recorded];
  for (const job of jobs) {
    const step = stepOfJob(db, job);
    const state = step && jobState(job);
    if (!step || state === undefined || state === 'running') continue;
    finished.push({ job, step, state });
    if (state === 'complete') record = recordStep(record, step);
  }
  const next = hooks.plan(db, withHealth(record, pods), db.spec.replicas ?? 1);
  if (!('member' in next)) return { finished, next, inFlight: false };
  const job = hooks.job(db, next, image === undefined ? {} : { image });
  const inFlight = jobs.some((j) => j.metadata.name === job.metadata.name);
  return { finished, next, job, inFlight };
}

/** Why membership is not settled yet, for the Progressing condition; undefined when it matches the spec. */
export function membershipProgress(plan: MembershipPlan): string | undefined {
  switch (plan.next.action) {
    case 'none':
      return undefined;
    case 'wait':
      return plan.next.reason;
    default:
      return `${plan.next.action === 'add' ? 'adding' : plan.next.action === 'promote' ? 'promoting' : 'removing'} member ${plan.next.member}`;
  }
}
