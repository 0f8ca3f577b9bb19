// The topology postgres and redis share: one primary (ordinal 0) and read-only replicas of it.
//
// Services: `<database>` is the read-write endpoint and selects the pod named `<database>-0` through the label the
// StatefulSet controller puts on every pod, so it works before any controller or sidecar has looked at a pod.
// `<database>-ro` selects `strongroom.dev/role: replica`, which the controller keeps on the other members (see
// `memberRole`); it always exists, and has no endpoints while there are no replicas.
import type { Database } from '../api/database.ts';
import type { KubeObject } from '../api/meta.ts';
import {
  childNames,
  clientService,
  configHash,
  headlessService,
  memberHost,
  memberName,
  networkPolicy,
  ordinalOf,
  podDisruptionBudget,
  primarySelector,
  ROLE_LABEL,
  selectorString,
  serviceHost,
  statefulSet,
  type NamedPort,
  type StatefulSetParts,
} from './common.ts';
import type { DesiredState, EngineContext } from './engine.ts';

/**
 * The role label the controller keeps on a member (`Engine.memberRole`). Ordinal 0 is the primary: it is the member
 * that initialises the data, and every other ordinal starts as its replica, so this holds without asking a running pod.
 */
export function memberRole(podName: string): 'primary' | 'replica' {
  return ordinalOf(podName) === 0 ? 'primary' : 'replica';
}

/** The stable DNS name of the primary (ordinal 0) through the headless Service: where replicas replicate from. */
export function primaryHost(db: Database, ctx: Pick<EngineContext, 'clusterDomain'>): string {
  return memberHost(db, memberName(db, 0), ctx);
}

export interface PrimaryWithReplicasParts {
  port: NamedPort;
  credentials: KubeObject;
  config: KubeObject;
  connection: KubeObject;
  statefulSet: KubeObject;
}

export function primaryWithReplicas(db: Database, ctx: EngineContext, parts: PrimaryWithReplicasParts): DesiredState {
  const names = childNames(db);
  const { port } = parts;
  const endpoint = (service: string) => `${serviceHost(db, service, ctx)}:${port.port}`;
  return {
    credentials: parts.credentials,
    objects: [
      parts.config,
      parts.connection,
      headlessService(db, [port]),
      clientService(db, names.client, [port], primarySelector(db)),
      clientService(db, names.readOnly, [port], { [ROLE_LABEL]: 'replica' }),
      parts.statefulSet,
      // One member down at a time: with replicas, reads go on and the primary is never drained with a replica.
      podDisruptionBudget(db, { maxUnavailable: 1 }),
      networkPolicy(db, [port], [port]),
    ],
    status: {
      selector: selectorString(db),
      endpoints: {
        primary: endpoint(names.client),
        ...((db.spec.replicas ?? 1) > 1 ? { readOnly: endpoint(names.readOnly) } : {}),
      },
      connectionSecret: names.connection,
    },
  };
}

/**
 * The StatefulSet of the primary and its replicas. Members start in order (OrderedReady), since a replica starts from
 * a running primary; `config` is hashed into the pod template, so that a change of it rolls the pods.
 */
export function replicatedStatefulSet(
  db: Database,
  ctx: EngineContext,
  config: KubeObject,
  parts: Omit<StatefulSetParts, 'replicas' | 'podManagementPolicy' | 'configHash'>,
): KubeObject {
  return statefulSet(db, ctx, {
    ...parts,
    replicas: db.spec.replicas ?? 1,
    podManagementPolicy: 'OrderedReady',
    configHash: configHash(config.data as Record<string, string>),
  });
}
