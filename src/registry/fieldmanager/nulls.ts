// The Go server stores an applied object only after its schema coercion, which drops nulls the schema does not allow
// (apiextensions PruneNonNullableNullsWithoutDefaults). Apply produces such nulls itself: pruning the last item of a
// list, or the last key of a map, leaves null behind (typed/remove.go). Nulls with a default are left for defaulting.
import type { JSONSchemaProps } from '../../api/definition.ts';
import { isMap, type Value } from './value.ts';

export function dropNonNullableNulls(x: Value, schema: JSONSchemaProps | undefined): void {
  if (isMap(x)) {
    for (const [k, v] of Object.entries(x)) {
      const s = schemaForField(k, schema);
      if (v === null && s !== undefined && s.nullable !== true && (s.default === undefined || s.default === null)) delete x[k];
      else dropNonNullableNulls(v, s);
    }
  } else if (Array.isArray(x)) {
    for (const item of x) dropNonNullableNulls(item, schema?.items);
  }
}

function schemaForField(name: string, s: JSONSchemaProps | undefined): JSONSchemaProps | undefined {
  if (!s) return undefined;
  const declared = s.properties?.[name];
  if (declared) return declared;
  return typeof s.additionalProperties === 'object' ? s.additionalProperties : undefined;
}
