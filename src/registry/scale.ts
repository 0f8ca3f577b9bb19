// The autoscaling/v1 Scale view of an object with a scale subresource, over the paths its definition declares (as a
// CRD's `subresources.scale`): reads build the view, writes put its replicas back into the object.
import type { ScaleSubresource } from '../api/definition.ts';
import type { KubeObject } from '../api/meta.ts';
import { deepClone } from './strategy.ts';

export interface Scale extends KubeObject {
  spec: { replicas?: number };
  status: { replicas: number; selector?: string };
}

export const SCALE_KIND = { group: 'autoscaling', version: 'v1', kind: 'Scale' } as const;

function pathParts(path: string): string[] {
  return path.split('.').filter(Boolean);
}

function readPath(obj: unknown, path: string): unknown {
  let node = obj;
  for (const part of pathParts(path)) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

export function toScale(parent: KubeObject, scale: ScaleSubresource): Scale {
  const { name, namespace, uid, resourceVersion, creationTimestamp } = parent.metadata;
  const selector = readPath(parent, scale.labelSelectorPath);
  const status: Scale['status'] = { replicas: Number(readPath(parent, scale.statusReplicasPath) ?? 0) };
  if (typeof selector === 'string' && selector) status.selector = selector;
  return {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata: { name, namespace, uid, resourceVersion, creationTimestamp },
    spec: { replicas: Number(readPath(parent, scale.specReplicasPath) ?? 0) },
    status,
  };
}

/** A copy of `parent` with the Scale's replicas at the spec path, guarded by the Scale's resourceVersion when it has one. */
export function fromScale(parent: KubeObject, scale: ScaleSubresource, written: Scale): KubeObject {
  const next = deepClone(parent);
  const parts = pathParts(scale.specReplicasPath);
  let node = next as Record<string, unknown>;
  for (const part of parts.slice(0, -1)) {
    if (node[part] === null || typeof node[part] !== 'object') node[part] = {};
    node = node[part] as Record<string, unknown>;
  }
  node[parts[parts.length - 1]!] = written.spec.replicas;
  if (written.metadata?.resourceVersion) next.metadata.resourceVersion = written.metadata.resourceVersion;
  return next;
}
