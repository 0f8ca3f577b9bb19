// The engines by name. Each one turns a Database into the objects the cluster should hold (see engine.ts).
import type { Engine as EngineName } from '../api/engine-rules.ts';
import type { Engine } from './engine.ts';
import { etcd } from './etcd.ts';
import { postgres } from './postgres.ts';
import { redis } from './redis.ts';

const ENGINES: Readonly<Record<EngineName, Engine>> = { postgres, redis, etcd };

export function engineFor(name: EngineName): Engine {
  return ENGINES[name];
}

export type { DesiredState, Engine, EngineContext, Member, PublishedStatus, UpgradeKind } from './engine.ts';
