import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PrinterColumn } from '../../src/api/definition.ts';
import type { KubeObject } from '../../src/api/meta.ts';
import {
  humanDuration,
  parseIncludeObject,
  toPartialObjectMetadata,
  toPartialObjectMetadataList,
  toTable,
} from '../../src/registry/table.ts';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const YEAR = 365 * DAY;

describe('humanDuration', () => {
  // apimachinery's TestHumanDuration and TestHumanDurationBoundaries (milliseconds instead of nanoseconds).
  const cases: [number, string][] = [
    [SECOND, '1s'],
    [70 * SECOND, '70s'],
    [190 * SECOND, '3m10s'],
    [70 * MINUTE, '70m'],
    [47 * HOUR, '47h'],
    [49 * HOUR, '2d1h'],
    [(8 * 24 + 2) * HOUR, '8d'],
    [367 * DAY, '367d'],
    [2 * YEAR + 25 * HOUR, '2y1d'],
    [8 * YEAR + 2 * HOUR, '8y'],
    [-2 * SECOND, '<invalid>'],
    [-2 * SECOND + 1, '0s'],
    [0, '0s'],
    [SECOND - 1, '0s'],
    [2 * MINUTE - 1, '119s'],
    [2 * MINUTE, '2m'],
    [2 * MINUTE + SECOND, '2m1s'],
    [10 * MINUTE - 1, '9m59s'],
    [10 * MINUTE, '10m'],
    [10 * MINUTE + SECOND, '10m'],
    [3 * HOUR - 1, '179m'],
    [3 * HOUR, '3h'],
    [3 * HOUR + MINUTE, '3h1m'],
    [8 * HOUR - 1, '7h59m'],
    [8 * HOUR, '8h'],
    [8 * HOUR + 59 * MINUTE, '8h'],
    [2 * DAY - 1, '47h'],
    [2 * DAY, '2d'],
    [2 * DAY + HOUR, '2d1h'],
    [8 * DAY - 1, '7d23h'],
    [8 * DAY, '8d'],
    [8 * DAY + 23 * HOUR, '8d'],
    [2 * YEAR - 1, '729d'],
    [2 * YEAR, '2y'],
    [2 * YEAR + 23 * HOUR + 59 * MINUTE, '2y'],
    [2 * YEAR + DAY - 1, '2y'],
    [2 * YEAR + DAY, '2y1d'],
    [7 * YEAR, '7y'],
    [8 * YEAR - 1, '7y364d'],
    [8 * YEAR, '8y'],
    [8 * YEAR + 364 * DAY, '8y'],
    [9 * YEAR, '9y'],
  ];
  for (const [ms, expected] of cases) {
    it(`${ms}ms → ${expected}`, () => assert.equal(humanDuration(ms), expected));
  }
});

const NOW = Date.parse('2026-01-10T12:00:00Z');

const COLUMNS: PrinterColumn[] = [
  { name: 'Engine', type: 'string', description: 'The engine.', priority: 0, jsonPath: '.spec.engine' },
  { name: 'Replicas', type: 'integer', description: 'Desired replicas.', priority: 0, jsonPath: '.spec.replicas' },
  { name: 'Ready', type: 'string', description: 'Ready replicas.', priority: 0, jsonPath: '.status.readyReplicas', cell: (o) => `${o.status?.readyReplicas ?? 0}/${o.spec?.replicas ?? 0}` },
  { name: 'Primary', type: 'string', description: 'First endpoint.', priority: 1, jsonPath: '.status.endpoints[0].host' },
  { name: 'Labelled', type: 'string', description: 'A label with dots.', priority: 1, jsonPath: ".metadata.labels['app.kubernetes.io/name']" },
  { name: 'Ratio', type: 'number', description: 'A number.', priority: 1, jsonPath: '.status.ratio' },
  { name: 'Paused', type: 'boolean', description: 'Paused.', priority: 1, jsonPath: '.spec.paused' },
  { name: 'Last-Backup', type: 'date', format: 'date-time', description: 'Last backup.', priority: 0, jsonPath: '.status.lastBackup.time' },
  { name: 'Storage', type: 'string', description: 'Storage, as JSON.', priority: 1, jsonPath: '.spec.storage' },
];

function database(name: string, extra: Partial<KubeObject> = {}): KubeObject {
  return {
    apiVersion: 'strongroom.dev/v1alpha1',
    kind: 'Database',
    metadata: { name, namespace: 'shop', labels: { 'app.kubernetes.io/name': 'postgres' }, creationTimestamp: '2026-01-10T11:55:00Z', resourceVersion: '12' },
    spec: { engine: 'postgres', replicas: 3, paused: false, storage: { size: '1Gi' } },
    status: { readyReplicas: 2, ratio: 0.5, endpoints: [{ host: 'orders-0' }], lastBackup: { time: '2026-01-10T09:00:00Z' } },
    ...extra,
  };
}

describe('toTable', () => {
  const def = { printerColumns: COLUMNS };

  it('has Name, the always-shown columns, Age, then the wide columns', () => {
    const table = toTable(def, [], { includeObject: 'Metadata', tableVersion: 'v1', now: NOW });
    assert.equal(table.kind, 'Table');
    assert.equal(table.apiVersion, 'meta.k8s.io/v1');
    assert.deepEqual(
      table.columnDefinitions.map((c) => [c.name, c.type, c.format, c.priority]),
      [
        ['Name', 'string', 'name', 0],
        ['Engine', 'string', '', 0],
        ['Replicas', 'integer', '', 0],
        ['Ready', 'string', '', 0],
        ['Last-Backup', 'date', 'date-time', 0],
        ['Age', 'date', '', 0],
        ['Primary', 'string', '', 1],
        ['Labelled', 'string', '', 1],
        ['Ratio', 'number', '', 1],
        ['Paused', 'boolean', '', 1],
        ['Storage', 'string', '', 1],
      ],
    );
    assert.match(table.columnDefinitions[0]!.description, /^Name must be unique within a namespace/);
    assert.match(table.columnDefinitions[5]!.description, /^CreationTimestamp is a timestamp/);
    assert.deepEqual(table.rows, []);
  });

  it('renders cells from JSONPath or the column function, typed as the column', () => {
    const table = toTable(def, [database('orders')], { includeObject: 'None', tableVersion: 'v1', now: NOW });
    assert.deepEqual(table.rows, [{ cells: ['orders', 'postgres', 3, '2/3', '3h', '5m', 'orders-0', 'postgres', 0.5, false, '{"size":"1Gi"}'] }]);
  });

  it('sends null for missing values and values of another type', () => {
    const obj = database('bare', { spec: { replicas: '3' }, status: {} });
    const [row] = toTable(def, [obj], { includeObject: 'None', tableVersion: 'v1', now: NOW }).rows;
    assert.deepEqual(row!.cells, ['bare', null, null, '0/3', null, '5m', null, 'postgres', null, null, null]);
  });

  it('prints an unparseable date as <invalid> and truncates integers', () => {
    const obj = database('odd', { spec: { replicas: 2.7 }, status: { lastBackup: { time: 'yesterday' } } });
    const [row] = toTable(def, [obj], { includeObject: 'None', tableVersion: 'v1', now: NOW }).rows;
    assert.equal(row!.cells[2], 2);
    assert.equal(row!.cells[4], '<invalid>');
  });

  const includes: ['None' | 'Metadata' | 'Object', (obj: KubeObject) => unknown][] = [
    ['None', () => undefined],
    ['Metadata', (obj) => ({ kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1beta1', metadata: obj.metadata })],
    ['Object', (obj) => obj],
  ];
  for (const [includeObject, expected] of includes) {
    it(`includeObject=${includeObject} decides rows[].object`, () => {
      const obj = database('orders');
      const table = toTable(def, [obj], { includeObject, tableVersion: 'v1beta1', now: NOW });
      assert.equal(table.apiVersion, 'meta.k8s.io/v1beta1');
      assert.deepEqual(table.rows[0]!.object, expected(obj));
    });
  }

  it('keeps the metadata of an initial-events-end bookmark even with includeObject=None', () => {
    const bookmark: KubeObject = { apiVersion: 'strongroom.dev/v1alpha1', kind: 'Database', metadata: { resourceVersion: '9', annotations: { 'k8s.io/initial-events-end': 'true' } } };
    const [row] = toTable(def, [bookmark], { includeObject: 'None', tableVersion: 'v1', now: NOW }).rows;
    assert.deepEqual(row!.object, { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: bookmark.metadata });
  });

  it('carries the list metadata and can omit headers (watch events after the first)', () => {
    const listMeta = { resourceVersion: '40', continue: 'abc', remainingItemCount: 3 };
    const table = toTable(def, [database('a'), database('b')], { includeObject: 'Metadata', tableVersion: 'v1', listMeta, noHeaders: true, now: NOW });
    assert.deepEqual(table.metadata, listMeta);
    assert.deepEqual(table.columnDefinitions, []);
    assert.deepEqual(
      table.rows.map((r) => r.cells[0]),
      ['a', 'b'],
    );
  });

  it('rejects a JSONPath it cannot evaluate', () => {
    const bad = { printerColumns: [{ name: 'X', type: 'string' as const, description: '', priority: 0, jsonPath: '.status.conditions[?(@.type=="Ready")].status' }] };
    assert.throws(() => toTable(bad, [database('a')], { includeObject: 'None', tableVersion: 'v1', now: NOW }), /unsupported printer column JSONPath/);
  });
});

describe('PartialObjectMetadata', () => {
  it('wraps one object', () => {
    const obj = database('orders');
    assert.deepEqual(toPartialObjectMetadata(obj), { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: obj.metadata });
  });

  it('wraps a list, keeping its list metadata', () => {
    const items = [database('a'), database('b')];
    const list = toPartialObjectMetadataList(items, { resourceVersion: '5', continue: 'x' }, 'meta.k8s.io/v1beta1');
    assert.equal(list.kind, 'PartialObjectMetadataList');
    assert.equal(list.apiVersion, 'meta.k8s.io/v1beta1');
    assert.deepEqual(list.metadata, { resourceVersion: '5', continue: 'x' });
    assert.deepEqual(
      list.items.map((i) => [i.kind, i.apiVersion, i.metadata.name]),
      [
        ['PartialObjectMetadata', 'meta.k8s.io/v1beta1', 'a'],
        ['PartialObjectMetadata', 'meta.k8s.io/v1beta1', 'b'],
      ],
    );
    assert.deepEqual(toPartialObjectMetadataList([], {}).items, []);
  });
});

describe('parseIncludeObject', () => {
  const cases: [string | null, string][] = [
    [null, 'Metadata'],
    ['', 'Metadata'],
    ['None', 'None'],
    ['Metadata', 'Metadata'],
    ['Object', 'Object'],
  ];
  for (const [value, expected] of cases) {
    it(`${JSON.stringify(value)} → ${expected}`, () => assert.equal(parseIncludeObject(value), expected));
  }

  it('rejects other values with the upstream 400', () => {
    assert.throws(() => parseIncludeObject('object'), {
      code: 400,
      reason: 'BadRequest',
      message: `Unable to convert to Table as requested: includeObject: Invalid value: "object": must be 'Metadata', 'Object', 'None', or empty`,
    });
  });
});
