// Server-side printing: the `as=Table` answer kubectl get asks for, built from a definition's printer columns the way
// apiextensions-apiserver's CRD table convertor does, and the metadata-only `as=PartialObjectMetadata[List]` forms that
// the garbage collector, quota and namespace controllers ask for.
import { badRequest } from '../api/errors.ts';
import type { PrinterColumn, ResourceDefinition } from '../api/definition.ts';
import type { KubeObject, ListMeta, ObjectMeta } from '../api/meta.ts';
import { isRFC3339Time } from './validation.ts';

export type MetaAPIVersion = 'meta.k8s.io/v1' | 'meta.k8s.io/v1beta1';
export type IncludeObject = 'None' | 'Metadata' | 'Object';

export interface TableColumnDefinition {
  name: string;
  type: string;
  format: string;
  description: string;
  priority: number;
}

export type TableCell = string | number | boolean | null;

export interface TableRow {
  cells: TableCell[];
  object?: KubeObject | PartialObjectMetadata;
}

export interface Table {
  kind: 'Table';
  apiVersion: MetaAPIVersion;
  metadata: ListMeta;
  columnDefinitions: TableColumnDefinition[];
  rows: TableRow[];
}

export interface PartialObjectMetadata {
  kind: 'PartialObjectMetadata';
  apiVersion: MetaAPIVersion;
  metadata: ObjectMeta;
}

export interface PartialObjectMetadataList {
  kind: 'PartialObjectMetadataList';
  apiVersion: MetaAPIVersion;
  metadata: ListMeta;
  items: PartialObjectMetadata[];
}

export interface TableOptions {
  includeObject: IncludeObject;
  tableVersion: 'v1' | 'v1beta1';
  /** resourceVersion/continue/remainingItemCount of the list, or the object's resourceVersion for a GET. */
  listMeta?: ListMeta;
  /** Watch events after the first omit the column definitions (kubectl reuses the last ones). */
  noHeaders?: boolean;
  /** The reference time for ages, in epoch milliseconds; the current time when absent. */
  now?: number;
}

// Descriptions from ObjectMeta's API documentation, as the built-in columns carry them.
const NAME_COLUMN: PrinterColumn = {
  name: 'Name',
  type: 'string',
  format: 'name',
  priority: 0,
  jsonPath: '.metadata.name',
  description:
    'Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names',
};

const AGE_COLUMN: PrinterColumn = {
  name: 'Age',
  type: 'date',
  priority: 0,
  jsonPath: '.metadata.creationTimestamp',
  description:
    'CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata',
};

/**
 * A duration as kubectl prints ages, with 2-3 significant figures: "45s", "3m20s", "15m", "5h10m", "20h", "3d4h",
 * "120d", "3y45d", "10y". The same thresholds as apimachinery's `duration.HumanDuration`.
 */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  // Clocks of different machines disagree a little: up to a second in the future still reads as "now".
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.trunc(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.trunc(minutes / 60);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  const days = Math.trunc(hours / 24);
  if (hours < 24 * 8) return hours % 24 === 0 ? `${days}d` : `${days}d${hours % 24}h`;
  if (hours < 24 * 365 * 2) return `${days}d`;
  const years = Math.trunc(days / 365);
  if (hours < 24 * 365 * 8) return days % 365 === 0 ? `${years}y` : `${years}y${days % 365}d`;
  return `${years}y`;
}

type PathSegment = string | number;
const compiledPaths = new Map<string, PathSegment[]>();

// The simple JSONPath subset printer columns use: `.a.b`, `[0]`, `['a.b']`. Anything else is a definition bug.
function compilePath(path: string): PathSegment[] {
  let segments = compiledPaths.get(path);
  if (segments) return segments;
  segments = [];
  const token = /\.([^.[\]]+)|\[(\d+)\]|\['([^']*)'\]|\["([^"]*)"\]/y;
  let pos = 0;
  while (pos < path.length) {
    token.lastIndex = pos;
    const m = token.exec(path);
    if (!m) throw new Error(`unsupported printer column JSONPath ${JSON.stringify(path)}`);
    segments.push(m[2] !== undefined ? Number(m[2]) : (m[1] ?? m[3] ?? m[4])!);
    pos = token.lastIndex;
  }
  compiledPaths.set(path, segments);
  return segments;
}

function evaluatePath(obj: unknown, path: string): unknown {
  let value = obj;
  for (const segment of compilePath(path)) {
    if (typeof segment === 'number') value = Array.isArray(value) ? value[segment] : undefined;
    else value = typeof value === 'object' && value !== null && !Array.isArray(value) && Object.hasOwn(value, segment) ? (value as Record<string, unknown>)[segment] : undefined;
    if (value === undefined) return undefined;
  }
  return value;
}

// A cell of the column's type, or null (kubectl prints "<none>") when the value is missing or of another type.
function cellFor(type: PrinterColumn['type'], value: unknown, now: number): TableCell {
  if (value === undefined || value === null) return null;
  switch (type) {
    case 'integer':
      return typeof value === 'number' ? Math.trunc(value) : null;
    case 'number':
      return typeof value === 'number' ? value : null;
    case 'boolean':
      return typeof value === 'boolean' ? value : null;
    case 'string':
      // As kubectl's JSONPath printer: scalars as text, objects and arrays as compact JSON.
      return typeof value === 'object' ? JSON.stringify(value) : String(value);
    case 'date': {
      if (typeof value !== 'string') return null;
      return isRFC3339Time(value) ? humanDuration(now - Date.parse(value)) : '<invalid>';
    }
  }
}

function columnDefinition(c: PrinterColumn): TableColumnDefinition {
  return { name: c.name, type: c.type, format: c.format ?? '', description: c.description, priority: c.priority };
}

function isInitialEventsEnd(obj: KubeObject): boolean {
  return obj.metadata.annotations?.['k8s.io/initial-events-end'] === 'true';
}

function rowObject(obj: KubeObject, include: IncludeObject, apiVersion: MetaAPIVersion): TableRow['object'] {
  if (include === 'Object') return obj;
  // Upstream always keeps the metadata of the initial-events-end bookmark, so watch-list clients still see it.
  if (include === 'Metadata' || isInitialEventsEnd(obj)) return toPartialObjectMetadata(obj, apiVersion);
  return undefined;
}

/**
 * The Table for `objects` (one for a GET, many for a list or a watch event): columns Name, the definition's
 * always-shown columns, Age, then the `-o wide` ones, in the order built-in resources print them. The definition's
 * columns must therefore not declare Name or Age themselves.
 */
export function toTable(def: Pick<ResourceDefinition, 'printerColumns'>, objects: readonly KubeObject[], options: TableOptions): Table {
  const apiVersion: MetaAPIVersion = `meta.k8s.io/${options.tableVersion}`;
  const now = options.now ?? Date.now();
  const columns = [
    NAME_COLUMN,
    ...def.printerColumns.filter((c) => c.priority === 0),
    AGE_COLUMN,
    ...def.printerColumns.filter((c) => c.priority !== 0),
  ];
  return {
    kind: 'Table',
    apiVersion,
    metadata: options.listMeta ?? {},
    columnDefinitions: options.noHeaders ? [] : columns.map(columnDefinition),
    rows: objects.map((obj) => {
      const row: TableRow = { cells: columns.map((c) => cellFor(c.type, c.cell ? c.cell(obj) : evaluatePath(obj, c.jsonPath), now)) };
      const object = rowObject(obj, options.includeObject, apiVersion);
      if (object) row.object = object;
      return row;
    }),
  };
}

export function toPartialObjectMetadata(obj: KubeObject, apiVersion: MetaAPIVersion = 'meta.k8s.io/v1'): PartialObjectMetadata {
  return { kind: 'PartialObjectMetadata', apiVersion, metadata: obj.metadata };
}

export function toPartialObjectMetadataList(
  objects: readonly KubeObject[],
  listMeta: ListMeta,
  apiVersion: MetaAPIVersion = 'meta.k8s.io/v1',
): PartialObjectMetadataList {
  return { kind: 'PartialObjectMetadataList', apiVersion, metadata: listMeta, items: objects.map((o) => toPartialObjectMetadata(o, apiVersion)) };
}

/** The `includeObject` query parameter of a Table request; `Metadata` when absent or empty. */
export function parseIncludeObject(value: string | null): IncludeObject {
  if (value === null || value === '') return 'Metadata';
  if (value === 'None' || value === 'Metadata' || value === 'Object') return value;
  throw badRequest(
    `Unable to convert to Table as requested: includeObject: Invalid value: ${JSON.stringify(value)}: must be 'Metadata', 'Object', 'None', or empty`,
  );
}
