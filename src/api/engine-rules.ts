// What the API knows about each engine: accepted versions, backup methods and the settings Strongroom owns. The
// engines in src/engines/ build workloads from the same table; the Database's validation also asks each engine which
// parameters it cannot write, so the API never accepts what an engine cannot run.
import { fieldInvalid, fieldNotSupported } from './field.ts';
import type { FieldError } from './meta.ts';

export const ENGINES = ['postgres', 'redis', 'etcd'] as const;
export type Engine = (typeof ENGINES)[number];

export interface EngineRules {
  /** The version a Database gets when it names none. */
  defaultVersion: string;
  /** Supported major versions, oldest first. Redis and etcd compatibility is per `major.minor`. */
  majors: readonly string[];
  /** Version syntax; the first group is the major. */
  versionPattern: RegExp;
  versionExamples: string;
  /** Backup methods; the first is the default. */
  backupMethods: readonly [string, ...string[]];
  /** The most members a Database of this engine may have. */
  maxReplicas: number;
  /** Whether the member count must be odd (a quorum-based engine). */
  oddReplicas: boolean;
  /** Configuration keys Strongroom sets itself; `spec.parameters` may not override them. */
  managedParameters: readonly string[];
}

export const engineRules: Record<Engine, EngineRules> = {
  postgres: {
    defaultVersion: '17',
    majors: ['13', '14', '15', '16', '17'],
    versionPattern: /^(\d+)(?:\.\d+)?$/,
    versionExamples: '"17" or "17.2"',
    backupMethods: ['dump', 'basebackup'],
    maxReplicas: 9,
    oddReplicas: false,
    managedParameters: [
      'data_directory',
      'external_pid_file',
      'hba_file',
      'ident_file',
      'listen_addresses',
      'port',
      'unix_socket_directories',
    ],
  },
  redis: {
    defaultVersion: '7.2',
    majors: ['6.2', '7.0', '7.2', '7.4'],
    versionPattern: /^(\d+\.\d+)(?:\.\d+)?$/,
    versionExamples: '"7.2" or "7.2.5"',
    backupMethods: ['rdb'],
    maxReplicas: 9,
    oddReplicas: false,
    managedParameters: ['bind', 'daemonize', 'dbfilename', 'dir', 'masterauth', 'port', 'replicaof', 'requirepass', 'slaveof'],
  },
  etcd: {
    defaultVersion: '3.5',
    majors: ['3.4', '3.5', '3.6'],
    versionPattern: /^(\d+\.\d+)(?:\.\d+)?$/,
    versionExamples: '"3.5" or "3.5.21"',
    backupMethods: ['snapshot'],
    maxReplicas: 7,
    oddReplicas: true,
    managedParameters: [
      'advertise-client-urls',
      'data-dir',
      'initial-advertise-peer-urls',
      'initial-cluster',
      'initial-cluster-state',
      'initial-cluster-token',
      'listen-client-urls',
      'listen-peer-urls',
      'name',
    ],
  },
};

export function isEngine(value: unknown): value is Engine {
  return (ENGINES as readonly unknown[]).includes(value);
}

/** Every backup method of every engine, for the Backup schema (which cannot see the database's engine). */
export const ALL_BACKUP_METHODS = [...new Set(ENGINES.flatMap((e) => engineRules[e].backupMethods))];

/** The major of `version` ("17.2" → "17", "7.2.5" → "7.2"), or undefined when the syntax is wrong. */
export function majorOf(engine: Engine, version: string): string | undefined {
  return engineRules[engine].versionPattern.exec(version)?.[1];
}

/**
 * What is wrong with `version` for `engine`, at `spec.version`. The API validates a Database and the engines check
 * what they render with this one function, so the two cannot disagree on a version.
 */
export function versionErrors(engine: Engine, version: string): FieldError[] {
  const rules = engineRules[engine];
  const major = majorOf(engine, version);
  if (major === undefined) return [fieldInvalid('spec.version', version, `must be a ${engine} version such as ${rules.versionExamples}`)];
  if (!rules.majors.includes(major)) return [fieldNotSupported('spec.version', version, rules.majors)];
  return [];
}

/** Orders two majors numerically, part by part ("7.10" > "7.2"). */
export function compareMajors(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}
