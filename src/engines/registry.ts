// The engines Strongroom runs, one line each. Everything engine-specific is in its folder behind `Engine`
// (engine.ts); the API, the controllers and the agent find an engine here by the name in `spec.engine`.
import type { Engine } from './engine.ts';
import { etcd } from './etcd/index.ts';
import { postgres } from './postgres/index.ts';
import { redis } from './redis/index.ts';

const ENGINES = { postgres, redis, etcd } satisfies Record<string, Engine>;

export type EngineName = keyof typeof ENGINES;
export const ENGINE_NAMES = Object.keys(ENGINES) as EngineName[];

export function isEngine(value: unknown): value is EngineName {
  return typeof value === 'string' && Object.hasOwn(ENGINES, value);
}

export function engineFor(name: EngineName): Engine {
  return ENGINES[name];
}

/** Every backup method of every engine, for the Backup schema (which cannot see the database's engine). */
export const ALL_BACKUP_METHODS = [...new Set(ENGINE_NAMES.flatMap((e) => ENGINES[e].backup.methods))];

export type { DesiredState, Engine, EngineContext, Member, MembershipStep, PublishedStatus, UpgradeKind } from './engine.ts';
