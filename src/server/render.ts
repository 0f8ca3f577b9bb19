// Turns stored objects into the representation the client negotiated: the object itself (JSON or YAML), a Table
// for kubectl's printers, or PartialObjectMetadata for the metadata clients of the garbage collector and friends.
import { stringify as toYaml } from 'yaml';
import type { ResourceDefinition } from '../api/definition.ts';
import type { KubeList, KubeObject, ListMeta, Status } from '../api/meta.ts';
import { toPartialObjectMetadata, toPartialObjectMetadataList, toTable, type IncludeObject } from '../registry/table.ts';
import type { Representation } from './negotiation.ts';

export interface Rendered {
  contentType: string;
  body: string | Buffer;
}

export function serialize(value: unknown, rep: Representation): Rendered {
  if (rep.as === 'object' && rep.format === 'yaml') return { contentType: 'application/yaml', body: toYaml(value, { aliasDuplicateObjects: false }) };
  return { contentType: 'application/json', body: encodeJSON(value) };
}

/**
 * The JSON of the objects the watch cache hands out, as bytes. They are deep-frozen and shared by every reader, so
 * each is encoded once however many gets, lists and watch events carry it (kube-apiserver's watch cache does the same
 * for watch events); encoding 10k objects anew made up most of a whole LIST's time, and joining strings that large is
 * slower than copying bytes. Weak keys: the bytes go with the object.
 */
const encodedObjects = new WeakMap<object, Buffer>();
const COMMA = Buffer.from(',');
const LIST_END = Buffer.from(']}');
const EVENT_END = Buffer.from('}\n');

/** Unpooled, so a cached object's bytes never keep a shared 8 KiB pool slab alive. */
function ownBytes(text: string): Buffer {
  const bytes = Buffer.allocUnsafeSlow(Buffer.byteLength(text));
  bytes.write(text);
  return bytes;
}

function isFrozenObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null && Object.isFrozen(value);
}

function encodeFrozen(value: object): Buffer {
  let bytes = encodedObjects.get(value);
  if (bytes === undefined) {
    bytes = ownBytes(JSON.stringify(value));
    encodedObjects.set(value, bytes);
  }
  return bytes;
}

function encodeItem(value: unknown): Buffer {
  return isFrozenObject(value) ? encodeFrozen(value) : Buffer.from(JSON.stringify(value));
}

/** JSON.stringify's text, with frozen objects and list items (`items` moved last) encoded through the cache. */
function encodeJSON(value: unknown): string | Buffer {
  if (isFrozenObject(value)) return encodeFrozen(value);
  if (typeof value !== 'object' || value === null || !Array.isArray((value as { items?: unknown }).items)) return JSON.stringify(value);
  const { items, ...rest } = value as { items: unknown[] };
  const head = JSON.stringify(rest);
  const parts: Buffer[] = [Buffer.from(`${head.slice(0, -1)}${head === '{}' ? '' : ','}"items":[`)];
  items.forEach((item, i) => {
    if (i > 0) parts.push(COMMA);
    parts.push(encodeItem(item));
  });
  parts.push(LIST_END);
  return Buffer.concat(parts);
}

/** One line of a watch stream: `{"type":…,"object":…}` and a newline. */
export function encodeWatchEvent(type: string, object: unknown): Buffer {
  return Buffer.concat([Buffer.from(`{"type":${JSON.stringify(type)},"object":`), encodeItem(object), EVENT_END]);
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
