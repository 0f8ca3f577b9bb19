// Turns stored objects into the representation the client negotiated: the object itself (JSON or YAML), a Table
// for kubectl's printers, or PartialObjectMetadata for the metadata clients of the garbage collector and friends.
import { stringify as toYaml } from 'yaml';
import type { ResourceDefinition } from '../api/definition.ts';
import type { KubeList, KubeObject, ListMeta, Status } from '../api/meta.ts';
import { toPartialObjectMetadata, toPartialObjectMetadataList, toTable, type IncludeObject } from '../registry/table.ts';
import type { Representation } from './negotiation.ts';

export interface Rendered {
  contentType: string;
  body: string;
}

export function serialize(value: unknown, rep: Representation): Rendered {
  if (rep.as === 'object' && rep.format === 'yaml') return { contentType: 'application/yaml', body: toYaml(value, { aliasDuplicateObjects: false }) };
  return { contentType: 'application/json', body: JSON.stringify(value) };
}

export function renderObject(def: ResourceDefinition, obj: KubeObject, rep: Representation, includeObject: IncludeObject): unknown {
  switch (rep.as) {
    case 'Table':
      return toTable(def, [obj], { includeObject, tableVersion: rep.version, listMeta: { resourceVersion: obj.metadata.resourceVersion } });
    case 'PartialObjectMetadata':
      return toPartialObjectMetadata(obj, `meta.k8s.io/${rep.version}`);
    default:
      return obj;
  }
}

export function renderList(def: ResourceDefinition, list: KubeList, rep: Representation, includeObject: IncludeObject): unknown {
  switch (rep.as) {
    case 'Table':
      return toTable(def, list.items, { includeObject, tableVersion: rep.version, listMeta: list.metadata });
    case 'PartialObjectMetadataList':
      return toPartialObjectMetadataList(list.items, list.metadata, `meta.k8s.io/${rep.version}`);
    default:
      return list;
  }
}

/**
 * One watch event's object. Tables carry column definitions only in the first event, as the Go server's embedded
 * encoder does; bookmarks and errors pass through (a metadata watch gets its bookmark as PartialObjectMetadata).
 */
export function renderWatchObject(
  def: ResourceDefinition,
  type: string,
  object: KubeObject | Status,
  rep: Representation,
  includeObject: IncludeObject,
  first: boolean,
): unknown {
  if (type === 'ERROR' || object.kind === 'Status') return object;
  const obj = object as KubeObject;
  if (rep.as === 'PartialObjectMetadata' || rep.as === 'PartialObjectMetadataList') return toPartialObjectMetadata(obj, `meta.k8s.io/${rep.version}`);
  if (type === 'BOOKMARK') return obj;
  if (rep.as === 'Table') {
    const listMeta: ListMeta = { resourceVersion: obj.metadata.resourceVersion };
    return toTable(def, [obj], { includeObject, tableVersion: rep.version, listMeta, noHeaders: !first });
  }
  return obj;
}
