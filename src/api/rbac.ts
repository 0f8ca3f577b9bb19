// ClusterRoles for people, derived from what discovery serves so they can never drift from the declared resources:
// `strongroom-admin`, `-edit` and `-view`, which the built-in admin/edit/view roles aggregate, and one role per action
// subresource (`strongroom-backup`, `strongroom-restore`) so an action can be granted on its own.
// `apiservice/base/user-roles.yaml` is this module's output, checked in (`npm run generate` rewrites it).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { stringify } from 'yaml';
import { apiResourceList } from './discovery.ts';
import { GROUP } from './meta.ts';
import { resources } from './resources.ts';

export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

export interface ClusterRole {
  apiVersion: 'rbac.authorization.k8s.io/v1';
  kind: 'ClusterRole';
  metadata: { name: string; labels?: Record<string, string> };
  rules: PolicyRule[];
}

/** The built-in roles ours aggregate into, widest first. */
export const AGGREGATED_ACCESS = ['admin', 'edit', 'view'] as const;
export type Access = (typeof AGGREGATED_ACCESS)[number];

const READ_VERBS = new Set(['get', 'list', 'watch']);

/**
 * What `access` may do to one served (sub)resource: admin everything; edit everything but writing status, which
 * belongs to the controller (the built-in edit role excludes `*\/status` writes alike); view only reads.
 */
function grantedVerbs(access: Access, name: string, served: string[]): string[] {
  const readOnly = access === 'view' || (access === 'edit' && name.endsWith('/status'));
  return readOnly ? served.filter((verb) => READ_VERBS.has(verb)) : served;
}

/** One rule per distinct verb set, in discovery order, so the YAML reads as "these resources: these verbs". */
function rulesFor(grants: Array<{ name: string; verbs: string[] }>): PolicyRule[] {
  const byVerbs = new Map<string, PolicyRule>();
  for (const { name, verbs } of grants) {
    if (verbs.length === 0) continue;
    const key = verbs.join(',');
    const rule = byVerbs.get(key) ?? { apiGroups: [GROUP], resources: [], verbs: [...verbs] };
    rule.resources.push(name);
    byVerbs.set(key, rule);
  }
  return [...byVerbs.values()];
}

export function aggregatedClusterRole(access: Access): ClusterRole {
  const served = apiResourceList().resources;
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: {
      name: `strongroom-${access}`,
      labels: { [`rbac.authorization.k8s.io/aggregate-to-${access}`]: 'true' },
    },
    rules: rulesFor(served.map((r) => ({ name: r.name, verbs: grantedVerbs(access, r.name, r.verbs) }))),
  };
}

/** `strongroom-<action>`: only the POST to `<plural>/<action>`, on any object (bind it with resourceNames to narrow). */
export function actionClusterRoles(): ClusterRole[] {
  return resources.flatMap((r) =>
    Object.keys(r.subresources.actions).map((action): ClusterRole => ({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: `strongroom-${action}` },
      rules: [{ apiGroups: [r.group], resources: [`${r.plural}/${action}`], verbs: ['create'] }],
    })),
  );
}

export function userClusterRoles(): ClusterRole[] {
  return [...AGGREGATED_ACCESS.map(aggregatedClusterRole), ...actionClusterRoles()];
}

/** The checked-in manifest: every user-facing role as one multi-document YAML file. */
export function userRolesManifest(): string {
  const header = '# Generated from src/api/resources.ts by `npm run generate` (src/api/rbac.ts). Do not edit.\n';
  return header + userClusterRoles().map((role) => `---\n${stringify(role, { lineWidth: 0 })}`).join('');
}

export function writeUserRolesManifest(path: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, userRolesManifest());
}
