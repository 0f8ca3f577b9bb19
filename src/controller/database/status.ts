// The Database's status from what the controller observed: pure, so every rule here is table-tested.
//
// Conditions (each with observedGeneration):
// - Ready: every member the spec asks for runs the current template and is ready (and first-time setup finished).
// - Progressing: True while the controller is changing something (provisioning, scaling, rolling, membership, setup);
//   False once the members match the spec, or when the spec cannot be carried out (MajorUpgradeRequiresBackup,
//   InvalidSpec) or the Database is paused.
// - Degraded: True when a Database that was ready has fewer ready members than asked for without any change under
//   way, or when first-time setup failed.
// `phase` summarises them for `kubectl get`; `currentVersion` and `image` move to the rendered version and image only
// once they are rolled out.
import type { Database, DatabasePhase, DatabaseStatus } from '../../api/database.ts';
import type { KubeObject } from '../../api/meta.ts';
import type { PublishedStatus } from '../../engines/engine.ts';
import { findCondition, setCondition, type Condition, type ObservedCondition } from '../conditions.ts';
import type { EventInput } from '../events.ts';
import type { JobState } from './observed.ts';

export type InitState = 'waiting' | JobState;

export interface StatusInput {
  db: Database;
  /** RFC 3339, for condition transitions. */
  now: string;
  /** The StatefulSet as last written or cached; undefined when it does not exist. */
  statefulSet: KubeObject | undefined;
  /** What the engine published; undefined when it refused the spec. */
  published: PublishedStatus | undefined;
  /** Why the engine refused the spec. */
  invalid?: string;
  /** The version the children were rendered with. */
  renderedVersion: string;
  /** The image the members were rendered with. */
  renderedImage?: string;
  /** spec.version, when it was refused as a major upgrade (and `renderedVersion` kept). */
  refusedVersion?: string;
  /** First-time setup, for engines that have it. */
  init?: { state: InitState; jobName: string };
  /** Engines with membership steps: why membership does not match the spec yet. */
  membership?: string;
}

/** The StatefulSet's rollout as its controller reports it. */
export interface Rollout {
  specReplicas: number;
  replicas: number;
  readyReplicas: number;
  updatedReplicas: number;
  /** The StatefulSet controller has seen the newest spec. */
  observed: boolean;
  /** Every pod runs the newest template. */
  updated: boolean;
}

export function rolloutOf(sts: KubeObject): Rollout {
  const status = (sts.status ?? {}) as Record<string, unknown>;
  const num = (value: unknown): number => (typeof value === 'number' ? value : 0);
  const specReplicas = num(sts.spec?.replicas ?? 1);
  const observed = num(status.observedGeneration) >= num(sts.metadata.generation);
  const revisions = !status.updateRevision || status.currentRevision === status.updateRevision;
  const updatedReplicas = num(status.updatedReplicas);
  return {
    specReplicas,
    replicas: num(status.replicas),
    readyReplicas: num(status.readyReplicas),
    updatedReplicas,
    observed,
    updated: observed && revisions && updatedReplicas === specReplicas,
  };
}

const members = (n: number): string => (n === 1 ? '1 member' : `${n} members`);

/** Progress under way, as reason and message; undefined when the members match the spec. */
function progress(input: StatusInput, rollout: Rollout | undefined, desired: number, everReady: boolean): ObservedCondition | undefined {
  const generation = input.db.metadata.generation;
  const condition = (reason: string, message: string): ObservedCondition => ({
    type: 'Progressing',
    status: 'True',
    observedGeneration: generation,
    reason,
    message,
  });
  if (!rollout) return condition('Provisioning', 'creating the StatefulSet');
  if (input.membership) return condition('MembershipChange', input.membership);
  const scaling = rollout.specReplicas !== desired || (rollout.observed && rollout.replicas !== rollout.specReplicas);
  if (!everReady && (scaling || !rollout.updated || rollout.readyReplicas < desired)) {
    return condition('Provisioning', `${rollout.readyReplicas} of ${members(desired)} ready`);
  }
  if (scaling) {
    const from = rollout.specReplicas !== desired ? rollout.specReplicas : rollout.replicas;
    return condition('Scaling', `scaling from ${members(from)} to ${desired}`);
  }
  if (!rollout.updated) {
    return condition('RollingUpdate', `${rollout.updatedReplicas} of ${members(rollout.specReplicas)} run the current template`);
  }
  if (input.init && input.init.state !== 'complete' && input.init.state !== 'failed') {
    return condition('Initializing', `waiting for the first-time setup Job ${input.init.jobName}`);
  }
  return undefined;
}

export function databaseStatus(input: StatusInput): DatabaseStatus {
  const { db, now } = input;
  const previous = db.status ?? {};
  const generation = db.metadata.generation;
  const desired = db.spec.replicas ?? 1;
  const rollout = input.statefulSet ? rolloutOf(input.statefulSet) : undefined;
  const everReady = previous.currentVersion !== undefined;
  const readyReplicas = rollout?.readyReplicas ?? 0;
  const set = (conditions: Condition[], type: string, status: Condition['status'], reason: string, message: string) =>
    setCondition(conditions, { type, status, observedGeneration: generation, reason, message }, now);

  let conditions = previous.conditions ?? [];
  let phase: DatabasePhase;
  const running = `${readyReplicas} of ${members(desired)} ready`;
  if (input.invalid !== undefined) {
    conditions = set(conditions, 'Ready', 'False', 'InvalidSpec', input.invalid);
    conditions = set(conditions, 'Progressing', 'False', 'InvalidSpec', input.invalid);
    phase = 'Failed';
  } else {
    const underway = progress(input, rollout, desired, everReady);
    const initFailed = input.init?.state === 'failed';
    const ready = !underway && !initFailed && rollout !== undefined && readyReplicas >= desired;
    conditions = ready
      ? set(conditions, 'Ready', 'True', 'MembersReady', `${running}, running ${db.spec.engine} ${input.renderedVersion}`)
      : underway?.reason === 'Initializing'
        ? set(conditions, 'Ready', 'False', 'Initializing', underway.message)
        : set(conditions, 'Ready', 'False', 'MembersNotReady', running);
    if (input.refusedVersion !== undefined) {
      conditions = set(
        conditions,
        'Progressing',
        'False',
        'MajorUpgradeRequiresBackup',
        `spec.version ${input.refusedVersion} is a major upgrade from ${input.renderedVersion}, which needs a backup first: ` +
          `the members keep running ${input.renderedVersion} until Strongroom can take one and upgrade (not available yet)`,
      );
    } else if (underway) {
      conditions = setCondition(conditions, underway, now);
    } else {
      conditions = set(conditions, 'Progressing', 'False', 'UpToDate', `the members run generation ${generation ?? 0} of the spec`);
    }
    if (initFailed) {
      conditions = set(
        conditions,
        'Degraded',
        'True',
        'InitJobFailed',
        `the first-time setup Job ${input.init!.jobName} failed; delete it to run it again`,
      );
    } else if (everReady && !underway && readyReplicas < desired) {
      conditions = set(conditions, 'Degraded', 'True', 'MembersUnavailable', running);
    } else {
      conditions = set(conditions, 'Degraded', 'False', 'AsExpected', running);
    }
    phase = ready ? 'Ready' : !everReady ? 'Provisioning' : findCondition(conditions, 'Degraded')?.status === 'True' ? 'Degraded' : 'Updating';
  }

  const isReady = findCondition(conditions, 'Ready')?.status === 'True';
  return {
    ...previous,
    phase,
    conditions,
    observedGeneration: generation,
    replicas: rollout?.replicas ?? 0,
    readyReplicas,
    ...(input.published ?? {}),
    currentVersion: isReady ? input.renderedVersion : previous.currentVersion,
    ...(isReady && input.renderedImage !== undefined ? { image: input.renderedImage } : {}),
  };
}

/**
 * A paused Database: the controller changes nothing, but still reports what it sees. Ready and Degraded keep their
 * last values; Progressing says why nothing moves.
 */
export function pausedStatus(db: Database, statefulSet: KubeObject | undefined, now: string): DatabaseStatus {
  const previous = db.status ?? {};
  const rollout = statefulSet ? rolloutOf(statefulSet) : undefined;
  const conditions = setCondition(
    previous.conditions,
    {
      type: 'Progressing',
      status: 'False',
      observedGeneration: db.metadata.generation,
      reason: 'Paused',
      message: 'spec.paused is true: the controller leaves the workloads as they are',
    },
    now,
  );
  return {
    ...previous,
    phase: 'Paused',
    conditions,
    observedGeneration: db.metadata.generation,
    replicas: rollout?.replicas ?? 0,
    readyReplicas: rollout?.readyReplicas ?? 0,
  };
}

/** The status of a Database whose deletion is under way. */
export function deletingStatus(db: Database, now: string, message: string): DatabaseStatus {
  const previous = db.status ?? {};
  const conditions = setCondition(
    previous.conditions,
    { type: 'Ready', status: 'False', observedGeneration: db.metadata.generation, reason: 'Deleting', message },
    now,
  );
  return { ...previous, phase: 'Deleting', conditions };
}

/** Stopped by an in-place restore: whatever the members do, the database is not serving until the restore ends. */
export function restoringStatus(computed: DatabaseStatus, db: Database, restore: string, now: string): DatabaseStatus {
  const conditions = setCondition(
    computed.conditions,
    { type: 'Ready', status: 'False', observedGeneration: db.metadata.generation, reason: 'Restoring', message: `Restore ${restore} is loading data into the stopped members` },
    now,
  );
  return { ...computed, phase: 'Restoring', conditions };
}

/**
 * The Events a change of status deserves: becoming ready, degraded, refused, invalid or paused. Only transitions
 * count (a condition's status or reason changing), so a status written again says nothing new.
 */
export function transitionEvents(before: DatabaseStatus | undefined, after: DatabaseStatus): EventInput[] {
  const changed = (type: string): Condition | undefined => {
    const now = findCondition(after.conditions, type);
    const then = findCondition(before?.conditions, type);
    return now && (now.status !== then?.status || now.reason !== then?.reason) ? now : undefined;
  };
  const events: EventInput[] = [];
  const ready = changed('Ready');
  if (ready?.status === 'True') events.push({ type: 'Normal', reason: 'Ready', action: 'Reconcile', note: ready.message });
  const degraded = changed('Degraded');
  if (degraded?.status === 'True') events.push({ type: 'Warning', reason: degraded.reason, action: 'Reconcile', note: degraded.message });
  const backups = changed('BackupHealthy');
  if (backups?.status === 'False') events.push({ type: 'Warning', reason: backups.reason, action: 'Backup', note: backups.message });
  const progressing = changed('Progressing');
  if (progressing?.status === 'False' && progressing.reason !== 'UpToDate') {
    const type = progressing.reason === 'Paused' ? 'Normal' : 'Warning';
    events.push({ type, reason: progressing.reason, action: 'Reconcile', note: progressing.message });
  }
  return events;
}
