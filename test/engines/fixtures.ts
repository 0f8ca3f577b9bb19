// Databases and lookups shared by the engine tests.
import type { Database, DatabaseSpec } from '../../src/api/database.ts';
import type { KubeObject } from '../../src/api/meta.ts';
import type { DesiredState, EngineContext } from '../../src/engines/engine.ts';
import { engineFor, type EngineName } from '../../src/engines/registry.ts';

/** The engines these tests know, as a literal list: the registry must hold exactly these (engines.test.ts). */
export const ENGINE_NAMES = ['postgres', 'redis', 'etcd'] as const;

export function database(engine: EngineName, spec: Partial<DatabaseSpec> = {}, name = 'orders'): Database {
  return {
    apiVersion: 'strongroom.dev/v1alpha1',
    kind: 'Database',
    metadata: { name, namespace: 'shop', uid: '6f1c2a9e-0000-4000-8000-000000000001' },
    spec: { engine, ...spec },
  };
}

/** A password source that counts how often it was asked. */
export function passwordCounter() {
  const source = { calls: 0, next: () => `generated${++source.calls}` };
  return source;
}

export function render(db: Database, ctx: Partial<EngineContext> = {}): DesiredState {
  return engineFor(db.spec.engine).desired(db, { credentials: undefined, generatePassword: passwordCounter().next, ...ctx });
}

export function find(state: DesiredState, kind: string, name: string): KubeObject {
  const found = [state.credentials, ...state.objects, ...(state.initJob ? [state.initJob] : [])].find(
    (o) => o.kind === kind && o.metadata.name === name,
  );
  if (!found) throw new Error(`no ${kind} ${name} in ${state.objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`);
  return found;
}

/** The data of a ConfigMap of the state. */
export function configData(state: DesiredState, name: string): Record<string, string> {
  return find(state, 'ConfigMap', name).data as Record<string, string>;
}

export function podSpec(state: DesiredState, name = 'orders'): any {
  return find(state, 'StatefulSet', name).spec.template.spec;
}

export function container(state: DesiredState, containerName: string, name = 'orders'): any {
  const spec = podSpec(state, name);
  const found = [...(spec.initContainers ?? []), ...spec.containers].find((c: any) => c.name === containerName);
  if (!found) throw new Error(`no container ${containerName}`);
  return found;
}

export function decoded(secret: KubeObject): Record<string, string> {
  return Object.fromEntries(
    Object.entries(secret.data as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]),
  );
}

export function envValue(c: any, name: string): unknown {
  const env = c.env.find((e: any) => e.name === name);
  if (!env) throw new Error(`no env ${name} in ${c.name}`);
  return env.value ?? env.valueFrom;
}
