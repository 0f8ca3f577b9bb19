// Moving from `kubectl apply` (client side) to `kubectl apply --server-side` without conflicts, and keeping the
// client-side annotation current (apimachinery managedfields internal/lastappliedmanager.go, lastappliedupdater.go).
// Both only act for the manager named `kubectl`; other managers opt out by their name.
import { compareValues } from './compare.ts';
import type { FieldSet } from './fieldset.ts';
import { goJSON, utf8Length } from './gofmt.ts';
import type { Atom } from './schema.ts';
import { toFieldSet } from './tofieldset.ts';
import { validate } from './validate.ts';
import { isMap, type Value, type ValueMap } from './value.ts';

export const LAST_APPLIED_ANNOTATION = 'kubectl.kubernetes.io/last-applied-configuration';

/** TotalAnnotationSizeLimitB: past it the annotation is dropped rather than the write refused. */
const TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024;

/** The manager whose applies migrate and maintain the client-side annotation. */
export const KUBECTL = 'kubectl';

function lastApplied(object: ValueMap): string | undefined {
  const annotations = isMap(object.metadata) ? object.metadata.annotations : undefined;
  const value = isMap(annotations) ? annotations[LAST_APPLIED_ANNOTATION] : undefined;
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * The fields the client-side annotation still describes truthfully (same value in the live object): conflicts over
 * them are not real, kubectl set them. Undefined when there is no usable annotation.
 */
export function fieldsFromLastApplied(live: ValueMap, type: Atom, apiVersion: string): FieldSet | undefined {
  const text = lastApplied(live);
  if (text === undefined || validate(live, type, false).length > 0) return undefined;
  let config: Value;
  try {
    config = JSON.parse(text) as Value;
  } catch {
    return undefined;
  }
  if (!isMap(config) || typeof config.kind !== 'string' || config.kind === '') return undefined;
  if (config.apiVersion !== apiVersion || validate(config, type, false).length > 0) return undefined;
  const c = compareValues(config, live, type);
  return toFieldSet(config, type).difference(c.modified).difference(c.added).difference(c.removed);
}

/** After an apply by kubectl to an object that has the annotation, the annotation becomes the applied config. */
export function refreshLastApplied(object: ValueMap, applied: ValueMap): void {
  if (lastApplied(object) === undefined) return;
  const metadata = object.metadata as ValueMap;
  const annotations: Record<string, Value> = { ...(metadata.annotations as ValueMap), [LAST_APPLIED_ANNOTATION]: annotationValue(applied) };
  let size = 0;
  for (const [k, v] of Object.entries(annotations)) size += utf8Length(k) + utf8Length(String(v));
  if (size > TOTAL_ANNOTATION_SIZE_LIMIT) delete annotations[LAST_APPLIED_ANNOTATION];
  metadata.annotations = annotations;
}

/** The applied config without the annotation itself, as json.Encoder writes it (sorted keys, trailing newline). */
function annotationValue(applied: ValueMap): string {
  const config = structuredClone(applied);
  if (isMap(config.metadata)) {
    const annotations = config.metadata.annotations;
    if (isMap(annotations)) delete annotations[LAST_APPLIED_ANNOTATION];
    else delete config.metadata.annotations;
  }
  return `${goJSON(config)}\n`;
}
