import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { apiResourceList } from '../../src/api/discovery.ts';
import { actionClusterRoles, aggregatedClusterRole, userClusterRoles, userRolesManifest, type ClusterRole } from '../../src/api/rbac.ts';

const BASE_DIR = fileURLToPath(new URL('../../apiservice/base/', import.meta.url));
const served = apiResourceList().resources;

function allows(role: ClusterRole, resource: string, verb: string): boolean {
  return role.rules.some((rule) => rule.apiGroups.includes('strongroom.dev') && rule.resources.includes(resource) && rule.verbs.includes(verb));
}

/** Every (resource, verb) pair a role grants, flattened. */
function grants(role: ClusterRole): string[] {
  return role.rules.flatMap((rule) => rule.resources.flatMap((resource) => rule.verbs.map((verb) => `${verb} ${resource}`))).sort();
}

describe('checked-in user roles', () => {
  it('apiservice/base/user-roles.yaml is up to date', () => {
    const checkedIn = readFileSync(`${BASE_DIR}user-roles.yaml`, 'utf8');
    assert.ok(checkedIn === userRolesManifest(), 'apiservice/base/user-roles.yaml is stale (the resources changed): run npm run generate');
  });

  it('is installed by the base', () => {
    const kustomization = parse(readFileSync(`${BASE_DIR}kustomization.yaml`, 'utf8')) as { resources: string[] };
    assert.ok(kustomization.resources.includes('user-roles.yaml'));
  });

  it('are named uniquely', () => {
    const names = userClusterRoles().map((role) => role.metadata.name);
    assert.deepEqual(names, [...new Set(names)]);
    assert.deepEqual(names, ['strongroom-admin', 'strongroom-edit', 'strongroom-view', 'strongroom-backup', 'strongroom-restore']);
  });
});

describe('aggregated roles', () => {
  const admin = aggregatedClusterRole('admin');
  const edit = aggregatedClusterRole('edit');
  const view = aggregatedClusterRole('view');

  it('carry the label the built-in role of the same name aggregates', () => {
    for (const [role, access] of [[admin, 'admin'], [edit, 'edit'], [view, 'view']] as const) {
      assert.deepEqual(role.metadata.labels, { [`rbac.authorization.k8s.io/aggregate-to-${access}`]: 'true' });
    }
  });

  it('admin grants every verb discovery serves, and nothing else', () => {
    const expected = served.flatMap((r) => r.verbs.map((verb) => `${verb} ${r.name}`)).sort();
    assert.deepEqual(grants(admin), expected);
  });

  // [resource, verb, edit allowed, view allowed]
  const cases: Array<[string, string, boolean, boolean]> = [
    ['databases', 'create', true, false],
    ['databases', 'delete', true, false],
    ['databases', 'deletecollection', true, false],
    ['databases', 'patch', true, false],
    ['databases', 'get', true, true],
    ['databases', 'list', true, true],
    ['databases', 'watch', true, true],
    ['databases/status', 'get', true, true],
    ['databases/status', 'update', false, false],
    ['databases/status', 'patch', false, false],
    ['databases/scale', 'get', true, true],
    ['databases/scale', 'update', true, false],
    ['databases/scale', 'patch', true, false],
    ['databases/backup', 'create', true, false],
    ['databases/restore', 'create', true, false],
    ['backups', 'create', true, false],
    ['backups', 'watch', true, true],
    ['backups/status', 'get', true, true],
    ['backups/status', 'patch', false, false],
    ['restores', 'delete', true, false],
    ['restores/status', 'update', false, false],
  ];
  for (const [resource, verb, editAllowed, viewAllowed] of cases) {
    it(`${verb} ${resource}: edit ${editAllowed ? 'may' : 'may not'}, view ${viewAllowed ? 'may' : 'may not'}`, () => {
      assert.equal(allows(edit, resource, verb), editAllowed);
      assert.equal(allows(view, resource, verb), viewAllowed);
      assert.ok(allows(admin, resource, verb), 'admin may do everything');
    });
  }

  it('view only reads', () => {
    assert.ok(grants(view).every((grant) => /^(get|list|watch) /.test(grant)), grants(view).join('\n'));
  });
});

describe('action roles', () => {
  it('grant exactly the POST to one action subresource', () => {
    assert.deepEqual(
      actionClusterRoles().map((role) => [role.metadata.name, grants(role)]),
      [
        ['strongroom-backup', ['create databases/backup']],
        ['strongroom-restore', ['create databases/restore']],
      ],
    );
  });

  it('are not aggregated into admin, edit or view', () => {
    for (const role of actionClusterRoles()) assert.equal(role.metadata.labels, undefined);
  });
});
