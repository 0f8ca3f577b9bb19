// A Database-like schema that has every merge type, and helpers to read managedFields in tests.
import type { JSONSchemaProps } from '../../../src/api/definition.ts';
import type { FieldsV1, KubeObject, ManagedFieldsEntry } from '../../../src/api/meta.ts';
import type { FieldManagerScope } from '../../../src/registry/fieldmanager/index.ts';

const STRING: JSONSchemaProps = { type: 'string' };

export const SCHEMA: JSONSchemaProps = {
  type: 'object',
  properties: {
    apiVersion: STRING,
    kind: STRING,
    metadata: { type: 'object' },
    spec: {
      type: 'object',
      properties: {
        engine: STRING,
        version: STRING,
        replicas: { type: 'integer' },
        paused: { type: 'boolean' },
        // granular map
        parameters: { type: 'object', additionalProperties: STRING },
        // atomic map
        selector: { type: 'object', additionalProperties: STRING, 'x-kubernetes-map-type': 'atomic' },
        // atomic list (the CRD default)
        ports: { type: 'array', items: { type: 'integer' } },
        // set
        tags: { type: 'array', items: STRING, 'x-kubernetes-list-type': 'set' },
        // list-map
        members: {
          type: 'array',
          'x-kubernetes-list-type': 'map',
          'x-kubernetes-list-map-keys': ['name'],
          items: { type: 'object', properties: { name: STRING, role: STRING, weight: { type: 'integer' } } },
        },
        backup: {
          type: 'object',
          properties: {
            schedule: STRING,
            retention: { type: 'object', properties: { keepLast: { type: 'integer' }, keepDaily: { type: 'integer' } } },
          },
        },
        // preserve-unknown-fields: deduced, granular maps and atomic lists
        extra: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
      },
    },
    status: {
      type: 'object',
      properties: {
        phase: STRING,
        replicas: { type: 'integer' },
        conditions: {
          type: 'array',
          'x-kubernetes-list-type': 'map',
          'x-kubernetes-list-map-keys': ['type'],
          items: {
            type: 'object',
            properties: { type: STRING, status: STRING, reason: STRING, lastTransitionTime: { type: 'string', format: 'date-time' } },
          },
        },
      },
    },
  },
};

export const API_VERSION = 'strongroom.dev/v1alpha1';

export const scope: FieldManagerScope = { apiVersion: API_VERSION, kind: 'Database', schema: SCHEMA, statusSubresource: true };

export const T0 = new Date('2024-05-01T10:00:00.250Z');
export const T1 = new Date('2024-05-01T11:00:00Z');
export const T2 = new Date('2024-05-01T12:00:00Z');

/** An apply configuration for database `ns/db`. */
export function config(body: { spec?: unknown; status?: unknown; labels?: Record<string, string>; finalizers?: string[]; annotations?: Record<string, string> }): Record<string, unknown> {
  const metadata: Record<string, unknown> = { name: 'db', namespace: 'ns' };
  if (body.labels) metadata.labels = body.labels;
  if (body.annotations) metadata.annotations = body.annotations;
  if (body.finalizers) metadata.finalizers = body.finalizers;
  const out: Record<string, unknown> = { apiVersion: API_VERSION, kind: 'Database', metadata };
  if (body.spec !== undefined) out.spec = body.spec;
  if (body.status !== undefined) out.status = body.status;
  return out;
}

/** A stored object: what the registry would have persisted (uid set). */
export function stored(obj: KubeObject): KubeObject {
  const copy = structuredClone(obj);
  copy.metadata.uid ??= '6f1c7c4e-0000-4000-8000-000000000001';
  copy.metadata.resourceVersion ??= '1';
  return copy;
}

export function entry(obj: KubeObject, manager: string, operation: 'Apply' | 'Update' = 'Apply', subresource?: string): ManagedFieldsEntry | undefined {
  return obj.metadata.managedFields?.find((e) => e.manager === manager && e.operation === operation && e.subresource === subresource);
}

export function fieldsOf(obj: KubeObject, manager: string, operation: 'Apply' | 'Update' = 'Apply', subresource?: string): FieldsV1 | undefined {
  return entry(obj, manager, operation, subresource)?.fieldsV1;
}

export function managers(obj: KubeObject): string[] {
  return (obj.metadata.managedFields ?? []).map((e) => `${e.manager}/${e.operation}${e.subresource ? `/${e.subresource}` : ''}`);
}
