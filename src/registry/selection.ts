// Which objects a list or watch selects: label selector plus field selector over the fields a resource declares.
import type { ResourceDefinition } from '../api/definition.ts';
import type { KubeObject } from '../api/meta.ts';
import { parseFieldSelector } from './fields.ts';
import { parseLabelSelector } from './labels.ts';

export interface ObjectSelector {
  /** No label or field requirement at all (then remainingItemCount may be reported). */
  empty: boolean;
  matches(obj: KubeObject): boolean;
}

export function selectableFieldNames(def: ResourceDefinition): string[] {
  return ['metadata.name', 'metadata.namespace', ...Object.keys(def.selectableFields)];
}

function fieldValues(def: ResourceDefinition, obj: KubeObject): Record<string, string | undefined> {
  const values: Record<string, string | undefined> = {
    'metadata.name': obj.metadata.name,
    'metadata.namespace': obj.metadata.namespace ?? '',
  };
  for (const [field, read] of Object.entries(def.selectableFields)) values[field] = read(obj);
  return values;
}

export function selectorFor(def: ResourceDefinition, options: { labelSelector?: string; fieldSelector?: string }): ObjectSelector {
  const labels = options.labelSelector ? parseLabelSelector(options.labelSelector) : undefined;
  const fields = options.fieldSelector ? parseFieldSelector(options.fieldSelector, selectableFieldNames(def)) : undefined;
  return {
    empty: !labels && !fields,
    matches(obj) {
      if (labels && !labels.matches(obj.metadata.labels ?? {})) return false;
      if (fields && !fields.matches(fieldValues(def, obj))) return false;
      return true;
    },
  };
}
