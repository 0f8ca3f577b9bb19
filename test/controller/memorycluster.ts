// An in-memory stand-in for the cluster's API, for reconciler tests without a control plane: objects by path, with
// uids and resourceVersions, the writes reconcilers make (create, server-side apply as a replace, merge patches of
// labels, delete), 404 and 409 as the API answers them, and informers fed from every write. It is a fake: admission,
// field management and controllers (StatefulSets making pods) are the cluster suites' business.
import type { KubeObject } from '../../src/api/meta.ts';
import { ObjectCache } from '../../src/controller/runtime/cache.ts';
import { statusError, type KubeClient, type RequestOptions } from '../../src/controller/runtime/client.ts';
import { childTypes, type ChildKind } from '../../src/controller/runtime/informer.ts';

export interface Write {
  method: string;
  path: string;
  kind?: string;
  name?: string;
}

export class MemoryCluster implements KubeClient {
  readonly objects = new Map<string, KubeObject>();
  readonly writes: Write[] = [];
  readonly informers = Object.fromEntries(childTypes.map((t) => [t.kind, new ObjectCache()])) as Record<ChildKind, ObjectCache>;
  private revision = 0;

  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const body = options.body as KubeObject | undefined;
    if (method === 'GET') {
      const obj = this.objects.get(path);
      if (!obj) throw statusError(undefined, 404);
      return structuredClone(obj) as T;
    }
    this.writes.push({ method, path, kind: body?.kind, name: body?.metadata?.name ?? path.split('/').at(-1) });
    if (method === 'DELETE') {
      const obj = this.objects.get(path);
      if (!obj) throw statusError(undefined, 404);
      this.objects.delete(path);
      this.informer(obj)?.remove(obj);
      return {} as T;
    }
    if (method === 'POST') {
      const target = `${path}/${body!.metadata.name}`;
      if (this.objects.has(target)) throw statusError(undefined, 409);
      return this.store(target, body!, undefined) as T;
    }
    if (method === 'PATCH') {
      const existing = this.objects.get(path);
      if (options.contentType === 'application/apply-patch+yaml') return this.store(path, body!, existing) as T;
      if (!existing) throw statusError(undefined, 404);
      const labels = (body as Partial<KubeObject>).metadata?.labels ?? {};
      return this.store(path, { ...existing, metadata: { ...existing.metadata, labels: { ...existing.metadata.labels, ...labels } } }, existing) as T;
    }
    throw new Error(`MemoryCluster does not answer ${method} ${path}`);
  }

  async watch(): Promise<void> {
    throw new Error('MemoryCluster has no watches: its informers are fed by its writes');
  }

  /** The objects of `kind` written so far, by name. */
  names(kind: string): string[] {
    return [...this.objects.values()].filter((o) => o.kind === kind).map((o) => o.metadata.name!).sort();
  }

  find(kind: string, name: string): KubeObject | undefined {
    return [...this.objects.values()].find((o) => o.kind === kind && o.metadata.name === name);
  }

  private store(path: string, obj: KubeObject, existing: KubeObject | undefined): KubeObject {
    const stored: KubeObject = structuredClone({
      ...obj,
      metadata: { ...obj.metadata, uid: existing?.metadata.uid ?? `uid-${path}`, resourceVersion: String(++this.revision) },
    });
    this.objects.set(path, stored);
    this.informer(stored)?.upsert(stored);
    return structuredClone(stored);
  }

  private informer(obj: KubeObject): ObjectCache | undefined {
    return (this.informers as Record<string, ObjectCache>)[obj.kind];
  }
}
