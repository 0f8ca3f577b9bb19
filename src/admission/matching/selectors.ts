// The selector half of matching, shared by policies, bindings and webhooks (upstream's namespace and object
// matchers): a namespaceSelector against the labels of the request's namespace, an objectSelector against the labels
// of the new or the old object. Each is a metav1.LabelSelector, evaluated as apimachinery's LabelSelectorAsSelector:
// every requirement must hold; an empty or absent selector selects everything.
import { notFound } from '../../api/errors.ts';
import type { AdmissionAttributes } from '../interface.ts';
import type { LabelSelector } from '../registration.ts';
import type { NamespaceLookup } from './namespaces.ts';

export function isEmptySelector(selector: LabelSelector | undefined): boolean {
  return !selector || (Object.keys(selector.matchLabels ?? {}).length === 0 && (selector.matchExpressions ?? []).length === 0);
}

export function selectorMatches(selector: LabelSelector | undefined, labels: Readonly<Record<string, string>> | undefined): boolean {
  const set = labels ?? {};
  for (const [key, value] of Object.entries(selector?.matchLabels ?? {})) if (set[key] !== value) return false;
  for (const { key, operator, values = [] } of selector?.matchExpressions ?? []) {
    const present = Object.hasOwn(set, key);
    switch (operator) {
      case 'In':
        if (!present || !values.includes(set[key]!)) return false;
        break;
      case 'NotIn':
        if (present && values.includes(set[key]!)) return false;
        break;
      case 'Exists':
        if (!present) return false;
        break;
      case 'DoesNotExist':
        if (present) return false;
        break;
      default:
        throw new Error(`${JSON.stringify(operator)} is not a valid label selector operator`);
    }
  }
  return true;
}

export interface Selectors {
  namespaceSelector?: LabelSelector;
  objectSelector?: LabelSelector;
}

/** Throws 404 NotFound when the request's namespace does not exist, as kube-apiserver answers then. */
export async function selectorsMatch(selectors: Selectors, a: AdmissionAttributes, namespaces: NamespaceLookup): Promise<boolean> {
  const { namespaceSelector, objectSelector } = selectors;
  if (!isEmptySelector(objectSelector)) {
    const labelsOf = (o: typeof a.object) => (o ? o.metadata?.labels ?? {} : undefined);
    const newLabels = labelsOf(a.object);
    const oldLabels = labelsOf(a.oldObject);
    const matched = (newLabels && selectorMatches(objectSelector, newLabels)) || (oldLabels && selectorMatches(objectSelector, oldLabels));
    if (!matched) return false;
  }
  // A cluster-scoped request is never exempted by a namespaceSelector.
  if (a.namespace === '' || isEmptySelector(namespaceSelector)) return true;
  const namespace = await namespaces.get(a.namespace);
  if (!namespace) throw notFound({ group: '', resource: 'namespaces' }, a.namespace);
  return selectorMatches(namespaceSelector, namespace.metadata.labels);
}
