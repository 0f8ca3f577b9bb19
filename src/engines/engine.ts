// The contract between Strongroom and an engine (postgres, redis, etcd): everything engine-specific sits behind it, in
// src/engines/<engine>/, and the API, the controllers and the agent ask the registry (registry.ts) instead of naming
// engines. Rendering is pure: from a Database and what the controller observed an engine computes the objects the
// cluster should hold. It never calls Kubernetes, reads a clock or draws random numbers itself, so the same input
// always gives byte-identical output and server-side apply of an unchanged Database is a no-op.
//
// src/engines imports src/api only for types: the API imports the engines (to validate and describe a Database), so
// anything else would be an import cycle.
import type { Database, DatabaseStatus } from '../api/database.ts';
import type { KubeObject } from '../api/meta.ts';
import type { EngineAdapter } from './adapter.ts';

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
  /** The image the members run, from the image catalog or `spec.image`; the engine's default image when unset. */
  image?: string;
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

/** What the API accepts in a Database of the engine; src/api/engine-spec.ts applies these at admission. */
export interface SpecRules {
  /** The version a Database gets when it names none. */
  defaultVersion: string;
  /** Supported major versions, oldest first. Redis and etcd compatibility is per `major.minor`. */
  majors: readonly string[];
  /** Version syntax; the first group is the major. */
  versionPattern: RegExp;
  versionExamples: string;
  /** The most members a Database of this engine may have. */
  maxReplicas: number;
  /** Whether the member count must be odd (a quorum-based engine). */
  oddReplicas: boolean;
  /** What `spec.parameters` may hold. Every value is also refused with a NUL character, which no engine can write. */
  parameters: {
    keyPattern: RegExp;
    keyDescription: string;
    /** Settings Strongroom writes itself, or that would undo what it writes; they are refused. */
    managed: readonly string[];
  };
}

/** How backups of the engine are made and loaded. */
export interface BackupRules {
  /** Backup methods; the first is the default. */
  methods: readonly [string, ...string[]];
  /** 'connection': loaded into the running primary (no stop); 'volumes': into the stopped members' data volumes. */
  loadMode(method: string): 'connection' | 'volumes';
  /** For 'volumes': how many of `members` members get the archive (ordinals 0 up); the others copy them. */
  restoredMembers(method: string, members: number): number;
  /**
   * For an in-place 'volumes' restore: whether the claims of the members not restored must be deleted while the
   * database is stopped, because a member that kept its old data would not follow the restored ones.
   */
  clearsOtherMembers(method: string): boolean;
}

/** Where the agent reaches a database: who it is there and what it names. The host and port come from the caller. */
export interface AgentConnection {
  /** The key of the credentials Secret with the password the agent connects with. */
  credentialKey: string;
  /** `--username`, when not the agent's default for the engine. */
  username?: string;
  /** `--dbname`, for engines with several databases in one server. */
  dbname?: string;
}

/** What the agent Jobs of the engine need (src/controller/backup/agentjob.ts builds them). */
export interface AgentNeeds {
  /** The engine's user: Jobs that write a member's data volume run as it, so the member can open what they wrote. */
  uid: number;
  /** Where the engine keeps its data, relative to the root of a member's data volume ('' for the root itself). */
  dataSubPath: string;
  /** How a backup of `method` connects to `db`. */
  backup(db: Database, method: string): AgentConnection;
  /** How a 'connection' restore connects to `target`. */
  restore(target: Database): AgentConnection;
  /** The role that owns what a restore into a new Database creates, when the engine has roles. */
  restoreRole?(target: Database): string;
  /** Extra flags of the restore Job of member `ordinal` of `members` (etcd: the member's identity). */
  memberArgs?(target: Database, ordinal: number, members: number, ctx: Pick<EngineContext, 'clusterDomain'>): string[];
}

/** The next membership change, or why there is none to make now. */
export type MembershipStep =
  | { action: 'none' }
  /** Add the member as a non-voting learner; the StatefulSet then starts the member's pod. */
  | { action: 'add'; member: string }
  /** The learner becomes a voter. The engine refuses until it has caught up. */
  | { action: 'promote'; member: string }
  /** Remove the member; the StatefulSet then deletes its pod and claim. */
  | { action: 'remove'; member: string }
  /** A step is due but would now break the quorum or cannot succeed; plan again when members change health. */
  | { action: 'wait'; reason: string };

/** Engines whose membership the controller changes one step at a time (etcd), with Jobs the engine renders. */
export interface MembershipHooks {
  /** How many voters keep the cluster available. */
  quorum(voters: number): number;
  /** One step from `members` towards `desired` voters. */
  plan(db: Database, members: readonly Member[], desired: number): MembershipStep;
  /** The Job that carries out a step, named `<database>-<action>-<ordinal>`. */
  job(db: Database, step: Extract<MembershipStep, { member: string }>, ctx?: Pick<EngineContext, 'clusterDomain' | 'image'>): KubeObject;
}

export interface Engine {
  readonly name: string;
  /** What `spec.parameters` configures, for the API's documentation, e.g. "postgresql.conf settings". */
  readonly parametersDescription: string;
  readonly spec: SpecRules;
  /** The port clients connect to. */
  readonly defaultPort: number;
  /** The keys of the credentials Secret, each holding a generated password. */
  readonly credentialKeys: readonly string[];
  /** The image of `version` when the image catalog names none: the engine's official image. */
  defaultImage(version: string): string;
  upgradeKind(fromVersion: string, toVersion: string): UpgradeKind;
  /** The objects of an admitted Database (src/api/engine-spec.ts has checked its spec). */
  desired(db: Database, ctx: EngineContext): DesiredState;
  readonly backup: BackupRules;
  readonly agent: AgentNeeds;
  /** The backup agent's side: streams of the engine's data and loading them back. */
  readonly adapter: EngineAdapter;
  /** The programs the adapter runs, which the agent's image must have on PATH (`strongroom agent tools` checks). */
  readonly agentTools: readonly string[];
  /** Engines with a primary: the role label each member gets from its pod name (`strongroom.dev/role`). */
  memberRole?(podName: string): string;
  readonly membership?: MembershipHooks;
}
