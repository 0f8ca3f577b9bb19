// Which requests a webhook's `rules` or a policy's `matchConstraints` cover, as k8s.io/apiserver's
// webhook/predicates/rules and policy/matching: groups, versions, resources with their subresources, operations and
// scope, then resource names and excludes for policies.
//
// matchPolicy Equivalent also matches a rule that names the same resource through another group or version that the
// server serves. Strongroom serves each resource in one version only, so there are no equivalents and it matches
// exactly as Exact does.
import type { AdmissionAttributes } from '../interface.ts';
import type { MatchResources, NamedRuleWithOperations, RuleWithOperations } from '../registration.ts';

const exactOrWildcard = (items: readonly string[] | undefined, requested: string) =>
  (items ?? []).some((item) => item === '*' || item === requested);

function scopeMatches(rule: RuleWithOperations, a: AdmissionAttributes): boolean {
  switch (rule.scope ?? '*') {
    case '*':
      return true;
    case 'Namespaced':
      return a.namespace !== '';
    case 'Cluster':
      return a.namespace === '';
    default:
      return false;
  }
}

function resourceMatches(rule: RuleWithOperations, a: AdmissionAttributes): boolean {
  return (rule.resources ?? []).some((entry) => {
    const slash = entry.indexOf('/');
    const [resource, subresource] = slash < 0 ? [entry, ''] : [entry.slice(0, slash), entry.slice(slash + 1)];
    return (resource === '*' || resource === a.resource.resource) && (subresource === '*' || subresource === a.subresource);
  });
}

export function ruleMatches(rule: RuleWithOperations, a: AdmissionAttributes): boolean {
  return (
    scopeMatches(rule, a) &&
    (rule.operations ?? []).some((op) => op === '*' || op === a.operation) &&
    exactOrWildcard(rule.apiGroups, a.resource.group) &&
    exactOrWildcard(rule.apiVersions, a.resource.version) &&
    resourceMatches(rule, a)
  );
}

/** A named rule also limits the object's name; an empty list allows every name. */
function namedRuleMatches(rule: NamedRuleWithOperations, a: AdmissionAttributes): boolean {
  if (!ruleMatches(rule, a)) return false;
  const names = rule.resourceNames ?? [];
  return names.length === 0 || names.includes(a.name);
}

/** The resource part of `matchConstraints`/`matchResources`: excluded first, then no rules means every resource. */
export function resourceRulesMatch(match: MatchResources | undefined, a: AdmissionAttributes): boolean {
  if ((match?.excludeResourceRules ?? []).some((rule) => namedRuleMatches(rule, a))) return false;
  const rules = match?.resourceRules ?? [];
  return rules.length === 0 || rules.some((rule) => namedRuleMatches(rule, a));
}
