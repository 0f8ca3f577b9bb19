// The adapter of each engine.
import type { Engine } from '../../api/engine-rules.ts';
import type { EngineAdapter } from './adapter.ts';
import { etcdAdapter } from './etcd.ts';
import { postgresAdapter } from './postgres.ts';
import { redisAdapter } from './redis.ts';

const adapters: Record<Engine, EngineAdapter> = { postgres: postgresAdapter, redis: redisAdapter, etcd: etcdAdapter };

export function adapterFor(engine: Engine): EngineAdapter {
  return adapters[engine];
}
