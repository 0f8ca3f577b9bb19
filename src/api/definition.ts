// A resource is declared once, as a ResourceDefinition. Routes, discovery, OpenAPI, Table output, selectable
// fields and RBAC roles are all derived from these declarations; no resource has HTTP code of its own.
import type { FieldError, KubeObject } from './meta.ts';

/** An OpenAPI v3 structural schema (the subset CRDs allow), with `x-kubernetes-*` extensions. */
export type JSONSchemaProps = {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  description?: string;
  properties?: Record<string, JSONSchemaProps>;
  additionalProperties?: JSONSchemaProps | boolean;
  items?: JSONSchemaProps;
  required?: string[];
  enum?: unknown[];
  default?: unknown;
  format?: string;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  nullable?: boolean;
  anyOf?: JSONSchemaProps[];
  oneOf?: JSONSchemaProps[];
  [extension: `x-${string}`]: unknown;
};

export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  format?: string;
  description: string;
  /** 0: always shown; 1: only with `-o wide`. */
  priority: number;
  /** Where the value comes from, e.g. `.spec.engine`; also what OpenAPI and docs show. */
  jsonPath: string;
  /** A computed cell where a plain path is not enough (e.g. "2/3" ready). */
  cell?: (obj: KubeObject) => string | number | boolean | undefined;
}

/** The mapping autoscaling/v1 `Scale` reads and writes, as in a CRD's `subresources.scale`. */
export interface ScaleSubresource {
  specReplicasPath: string;
  statusReplicasPath: string;
  labelSelectorPath: string;
}

/** Reads an object the server stores, by resource plural, namespace and name; undefined when there is none. */
export type ObjectLookup = (plural: string, namespace: string | undefined, name: string) => Promise<KubeObject | undefined>;

/**
 * An action subresource such as `databases/backup`: a POST that creates an object of another resource pointing at
 * the parent, and answers 201 with it (a "named creater" in k8s.io/apiserver terms).
 */
export interface ActionSubresource {
  /** The plural of the resource the action creates, e.g. `backups`. */
  creates: string;
  /** The kind of the created object, which is also the kind the action accepts and answers with. */
  kind: string;
  bodyRequired: boolean;
  /** The object to create from the parent and the posted body (already parsed; undefined when empty). */
  build(parent: KubeObject, body: KubeObject | undefined): KubeObject;
  /**
   * The answer to a dry run: the object as it would be created, with what the action would do filled in (its
   * status is otherwise dropped on create). `databases/restore` answers the restore's plan this way.
   */
  describe?(created: KubeObject, lookup: ObjectLookup): Promise<KubeObject>;
}

export interface ResourceDefinition {
  group: string;
  version: string;
  kind: string;
  listKind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  categories: string[];
  namespaced: boolean;
  description: string;
  /** The whole object's schema: apiVersion, kind, metadata (as `{type: object}`), spec, status. */
  schema: JSONSchemaProps;
  /** Fills defaults the schema cannot express (e.g. an engine's default version). Mutates `obj`. */
  applyDefaults(obj: KubeObject): void;
  /** Checks a whole object (schema and meaning), returning every problem with its field path. */
  validate(obj: KubeObject): FieldError[];
  /**
   * Checks on create that read other objects, as a validating admission plugin does: run after `validate`, dry runs
   * included, returning every problem with its field path. What they read may change right after; controllers
   * check again.
   */
  validateReferences?(obj: KubeObject, lookup: ObjectLookup): Promise<FieldError[]>;
  /** Extra checks when `obj` replaces `old` (immutable fields and allowed transitions). */
  validateUpdate(obj: KubeObject, old: KubeObject): FieldError[];
  /** Non-fatal advice returned as `Warning` headers. */
  warnings(obj: KubeObject): string[];
  printerColumns: PrinterColumn[];
  /** Field-selector fields beyond metadata.name and metadata.namespace. */
  selectableFields: Record<string, (obj: KubeObject) => string | undefined>;
  subresources: {
    status: boolean;
    scale?: ScaleSubresource;
    actions: Record<string, ActionSubresource>;
  };
}
