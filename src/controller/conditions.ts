// status.conditions as the API conventions define them (k8s.io/apimachinery's meta.SetStatusCondition): one entry per
// type, and lastTransitionTime moves only when the status does, so it tells when a condition last flipped rather
// than when the controller last looked. Reason, message and observedGeneration follow every observation.
import type { Static } from '@sinclair/typebox';
import type { ConditionSchema } from '../api/schema.ts';

export type Condition = Static<typeof ConditionSchema>;
export type ConditionStatus = Condition['status'];

/** A condition as a reconcile observes it; the transition time is filled in by `setCondition`. */
export type ObservedCondition = Omit<Condition, 'lastTransitionTime'>;

export function findCondition(conditions: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((condition) => condition.type === type);
}

export function isTrue(conditions: readonly Condition[] | undefined, type: string): boolean {
  return findCondition(conditions, type)?.status === 'True';
}

/**
 * `conditions` with `observed` set: a new type is appended, an existing one is replaced in place, keeping its
 * lastTransitionTime unless its status changed (then `now`).
 */
export function setCondition(conditions: readonly Condition[] | undefined, observed: ObservedCondition, now: string): Condition[] {
  const list = [...(conditions ?? [])];
  const index = list.findIndex((condition) => condition.type === observed.type);
  const previous = index === -1 ? undefined : list[index];
  const lastTransitionTime = previous && previous.status === observed.status ? previous.lastTransitionTime : now;
  const next: Condition = { ...observed, lastTransitionTime };
  if (index === -1) list.push(next);
  else list[index] = next;
  return list;
}
