// The contract between the controller and an engine (postgres, redis, etcd). An engine is pure: from a Database and
// what the controller observed it computes the objects the cluster should hold. It never calls Kubernetes, reads a
// clock or draws random numbers itself, so the same input always gives byte-identical output and server-side apply
// of an unchanged Database is a no-op.
import type { Database, DatabaseStatus } from '../api/database.ts';
import type { Engine as EngineName } from '../api/engine-rules.ts';
import type { FieldError, KubeObject } from '../api/meta.ts';

/** What a version change asks of the running members. */
export type UpgradeKind =
  /** The same image: nothing to do. */
  | 'none'
  /** A new image of the same major (the API's unit of compatibility): the StatefulSet rolls the pods one by one. */
  | 'minor'
  /** Another major: the data files need a conversion, so it is refused until the backup issue adds the upgrade path. */
  | 'major';

/** A member of an engine whose membership is managed one step at a time (etcd), as the controller last recorded it. */
export interface Member {
  /** The member's name, which is its pod's name: `<database>-<ordinal>`. */
  name: string;
  /** A non-voting member that is catching up (etcd learner). */
  learner: boolean;
  /** Its pod runs and answers. For a learner this means started: a learner never passes the readiness check. */
  healthy: boolean;
}

/** What the pure code cannot invent: the state the controller observed and the source of new passwords. */
export interface EngineContext {
  /**
   * The credentials Secret as it is in the cluster, or undefined when it does not exist. Read it from the API rather
   * than a cache that may lag: its passwords are kept, and only keys it lacks get new ones.
   */
  credentials: KubeObject | undefined;
  /** Makes one new password; called only for credential keys the existing Secret lacks. */
  generatePassword: () => string;
  /** The StatefulSet as it is in the cluster: its volumeClaimTemplates are immutable, so they are kept as they are. */
  statefulSet?: KubeObject;
  /**
   * etcd only: the members as the controller recorded them. Leave it undefined until the first members have formed
   * a cluster (a quorum of them Ready): until then the members bootstrap a new cluster, from then on a member that
   * starts joins the existing one.
   */
  members?: readonly Member[];
  /** The cluster's DNS domain; `cluster.local` when unset. */
  clusterDomain?: string;
}

/** The status fields the engine knows the values of; the controller publishes them. */
export type PublishedStatus = Required<Pick<DatabaseStatus, 'selector' | 'endpoints' | 'connectionSecret'>>;

/** Everything a Database should have in the cluster, without owner references (the caller adds its own). */
export interface DesiredState {
  /**
   * The Secret of generated passwords. When the context had none, create it with POST, never with apply: should it
   * exist after all, the POST fails with 409 and the passwords in use survive (read it again and recompute). When the
   * context had one, apply it like the objects: it repeats the stored passwords and adds only missing keys.
   */
  credentials: KubeObject;
  /** Applied with server-side apply in this order: configuration and Secrets before the workload that uses them. */
  objects: KubeObject[];
  /**
   * First-time setup that needs the running members; create it once all members are Ready. It is idempotent, and
   * the completed Job stays as the record that it ran.
   */
  initJob?: KubeObject;
  status: PublishedStatus;
}

export interface Engine {
  readonly name: EngineName;
  /** The port clients connect to. */
  readonly defaultPort: number;
  /** The keys of the credentials Secret, each holding a generated password. */
  readonly credentialKeys: readonly string[];
  /** The container image that runs `version`; throws for a version the API does not accept. */
  image(version: string): string;
  upgradeKind(fromVersion: string, toVersion: string): UpgradeKind;
  /** What in `spec.parameters` the engine refuses: settings it manages and keys or values it cannot write safely. */
  parameterErrors(parameters: Readonly<Record<string, string>> | undefined): FieldError[];
  /** Throws an Invalid StatusError when the spec holds what `parameterErrors` or the version rules refuse. */
  desired(db: Database, ctx: EngineContext): DesiredState;
}
