// What the cluster holds for one Database, read from the child informers' caches: the StatefulSet, its member pods,
// the Jobs and the volume claims. Everything here is a cached snapshot; writes go through the API.
import type { Database } from '../../api/database.ts';
import type { KubeObject } from '../../api/meta.ts';
import { DATABASE_LABEL, childNames } from '../../engines/common.ts';
import type { Informer } from '../runtime/cache.ts';
import type { ChildKind } from '../runtime/informer.ts';

export type ChildInformers = Readonly<Record<ChildKind, Informer>>;

const COMPONENT_LABEL = 'app.kubernetes.io/component';

export interface Observed {
  statefulSet: KubeObject | undefined;
  /** The member pods (not those of Jobs). */
  pods: KubeObject[];
  jobs: KubeObject[];
  claims: KubeObject[];
  /** The cached object of a kind and name in the Database's namespace. */
  live(kind: string, name: string): KubeObject | undefined;
}

export function observe(informers: ChildInformers, db: Database): Observed {
  const namespace = db.metadata.namespace!;
  const name = db.metadata.name!;
  const ofDatabase = (obj: KubeObject): boolean => obj.metadata.labels?.[DATABASE_LABEL] === name;
  return {
    statefulSet: informers.StatefulSet.get(namespace, childNames(db).statefulSet),
    pods: informers.Pod.list(namespace).filter((pod) => ofDatabase(pod) && pod.metadata.labels?.[COMPONENT_LABEL] === 'database'),
    jobs: informers.Job.list(namespace).filter(ofDatabase),
    claims: informers.PersistentVolumeClaim.list(namespace).filter(ofDatabase),
    live: (kind, childName) => (informers as Record<string, Informer | undefined>)[kind]?.get(namespace, childName),
  };
}

/** A pod counts as ready when its Ready condition is True and it is not being deleted. */
export function podReady(pod: KubeObject): boolean {
  if (pod.metadata.deletionTimestamp) return false;
  const conditions = (pod.status?.conditions ?? []) as Array<{ type: string; status: string }>;
  return conditions.some((condition) => condition.type === 'Ready' && condition.status === 'True');
}

export function podRunning(pod: KubeObject): boolean {
  return !pod.metadata.deletionTimestamp && pod.status?.phase === 'Running';
}

export type JobState = 'running' | 'complete' | 'failed';

/** The outcome of a Job from its conditions (Complete or Failed, as the Job controller sets them). */
export function jobState(job: KubeObject): JobState {
  const conditions = (job.status?.conditions ?? []) as Array<{ type: string; status: string }>;
  if (conditions.some((c) => c.type === 'Complete' && c.status === 'True')) return 'complete';
  if (conditions.some((c) => c.type === 'Failed' && c.status === 'True')) return 'failed';
  return 'running';
}
