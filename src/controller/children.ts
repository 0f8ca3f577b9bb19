// Writing children with server-side apply, and knowing what each write changed.
//
// A level-based controller states every child on every reconcile. Most of those applies are no-ops, and each still
// costs a request, so the writer remembers, per child, what it last applied and the resourceVersion it got back: when
// the desired object is the same and the cached live object is still at that resourceVersion (nobody edited,
// deleted or recreated it since), the apply is skipped. Anything else — a changed spec, an edit by hand, a deletion,
// a cache that has not caught up with our own write yet — applies again, so skipping never leaves a child wrong.
import { createHash } from 'node:crypto';
import type { KubeObject } from '../api/meta.ts';
import { applyObject, FIELD_MANAGER } from './runtime/apply.ts';
import { isStatusError, type KubeClient } from './runtime/client.ts';
import { resourcePath, resourceTypeOf } from './runtime/kinds.ts';

/** What an apply did to a child, when it did something. */
export type ChildChange = 'created' | 'recreated' | 'updated';

export interface ApplyOutcome {
  /** The child as stored (the cached one when the apply was skipped). */
  object: KubeObject;
  change?: ChildChange;
}

interface Applied {
  hash: string;
  uid: string;
  resourceVersion: string;
  /** What says whether an apply changed the object (see `changeOf`). */
  mark: string;
}

function childKey(obj: KubeObject): string {
  return `${obj.apiVersion}/${obj.kind}/${obj.metadata.namespace ?? ''}/${obj.metadata.name}`;
}

function hashOf(obj: KubeObject): string {
  return createHash('sha256').update(JSON.stringify(obj)).digest('base64');
}

export class ChildWriter {
  private readonly client: KubeClient;
  private readonly applied = new Map<string, Applied>();

  constructor(client: KubeClient) {
    this.client = client;
  }

  /** Applies `desired` unless it and `live` (the cached child, if any) are as the last apply left them. */
  async apply(desired: KubeObject, live: KubeObject | undefined, signal?: AbortSignal): Promise<ApplyOutcome> {
    const key = childKey(desired);
    const hash = hashOf(desired);
    const last = this.applied.get(key);
    if (live && last && last.hash === hash && live.metadata.uid === last.uid && live.metadata.resourceVersion === last.resourceVersion) {
      return { object: live };
    }
    const stored = await applyObject(this.client, desired, { signal });
    const { uid = '', resourceVersion = '' } = stored.metadata;
    this.applied.set(key, { hash, uid, resourceVersion, mark: markOf(stored) });
    return { object: stored, change: changeOf(live, last, stored) };
  }

  /**
   * Deletes a child (a missing one counts as deleted), its own dependents in the background, and forgets it, so
   * that creating it again reads as a creation.
   */
  async delete(obj: KubeObject, signal?: AbortSignal): Promise<void> {
    try {
      await this.client.request('DELETE', resourcePath(resourceTypeOf(obj.apiVersion, obj.kind), obj.metadata.namespace, obj.metadata.name), {
        // A query parameter rather than a DeleteOptions body: KubeConfigClient sends a DELETE's body unframed.
        query: { propagationPolicy: 'Background' },
        signal,
      });
    } catch (err) {
      if (!isStatusError(err, 404)) throw err;
    }
    this.applied.delete(childKey(obj));
  }
}

/**
 * Our apply's mark on an object: the generation (which moves with every spec change, for the kinds that have one)
 * and the time of our field manager's Apply entry, which the apiserver moves only when an apply of ours changed
 * something. A resourceVersion cannot tell: the object an apply answers may carry another writer's later change,
 * such as the StatefulSet controller's status.
 */
function markOf(obj: KubeObject): string {
  const entry = obj.metadata.managedFields?.find((m) => m.manager === FIELD_MANAGER && m.operation === 'Apply' && !m.subresource);
  return `${obj.metadata.generation ?? ''}@${entry?.time ?? ''}`;
}

/**
 * What happened: a new uid after an earlier apply means the child had been deleted; an unknown child absent from the
 * cache was created; a mark that is neither the cached object's nor the one our last apply left means this apply
 * changed it.
 */
function changeOf(live: KubeObject | undefined, last: Applied | undefined, stored: KubeObject): ChildChange | undefined {
  if (last && last.uid !== stored.metadata.uid) return 'recreated';
  if (!last && !live) return 'created';
  const mark = markOf(stored);
  if (mark !== (live && markOf(live)) && mark !== last?.mark) return 'updated';
  return undefined;
}
