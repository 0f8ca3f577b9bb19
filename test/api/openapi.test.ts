import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import {
  openAPIDocuments,
  openAPIV2,
  openAPIV3,
  openAPIV3Root,
  PATCH_CONTENT_TYPES,
  schemaName,
  writeOpenAPIDocuments,
} from '../../src/api/openapi.ts';
import { resources } from '../../src/api/resources.ts';

const OPENAPI_DIR = fileURLToPath(new URL('../../openapi/', import.meta.url));
const v3 = openAPIV3() as any;
const v2 = openAPIV2() as any;
const METHODS = ['get', 'put', 'post', 'patch', 'delete'];

function operations(doc: any): [string, string, any][] {
  return Object.entries(doc.paths).flatMap(([path, item]: [string, any]) =>
    METHODS.filter((m) => item[m]).map((m): [string, string, any] => [path, m, item[m]]),
  );
}

function gvkOf(r: (typeof resources)[number]) {
  return { group: r.group, version: r.version, kind: r.kind };
}

describe('checked-in OpenAPI documents', () => {
  for (const [file, text] of Object.entries(openAPIDocuments())) {
    it(`openapi/${file} is up to date`, () => {
      let checkedIn = '';
      try {
        checkedIn = readFileSync(join(OPENAPI_DIR, file), 'utf8');
      } catch {
        assert.fail(`openapi/${file} is missing: run npm run generate`);
      }
      assert.ok(checkedIn === text, `openapi/${file} is stale (the API definitions changed): run npm run generate`);
    });
  }

  it('writeOpenAPIDocuments writes exactly those files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'strongroom-openapi-'));
    try {
      const written = writeOpenAPIDocuments(dir);
      assert.deepEqual(
        written.map((p) => p.slice(dir.length + 1)).sort(),
        ['v2.json', 'v3/apis__strongroom.dev__v1alpha1.json'],
      );
      for (const [file, text] of Object.entries(openAPIDocuments())) assert.equal(readFileSync(join(dir, file), 'utf8'), text);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('serialises deterministically', () => {
    assert.deepEqual(openAPIDocuments(), openAPIDocuments());
  });
});

describe('kubectl explain lookups', () => {
  for (const r of resources) {
    it(`finds ${r.plural} in v3: path operation with the GVK object, then a schema with the GVK array`, () => {
      const item = v3.paths[`/apis/${r.group}/${r.version}/namespaces/{namespace}/${r.plural}`];
      assert.ok(item, 'collection path');
      const gvks = METHODS.filter((m) => item[m]).map((m) => item[m]['x-kubernetes-group-version-kind']);
      assert.ok(gvks.some((gvk) => isDeepStrictEqual(gvk, gvkOf(r))), JSON.stringify(gvks));
      const matches = Object.entries(v3.components.schemas).filter(([, s]: [string, any]) =>
        (s['x-kubernetes-group-version-kind'] ?? []).some((g: any) => g.group === r.group && g.version === r.version && g.kind === r.kind),
      );
      assert.deepEqual(matches.map(([name]) => name), [schemaName(r.kind)]);
      assert.ok(Array.isArray((matches[0]![1] as any)['x-kubernetes-group-version-kind']));
    });

    it(`finds ${r.kind} in v2 definitions with the GVK array`, () => {
      const definition = v2.definitions[schemaName(r.kind)];
      assert.deepEqual(definition['x-kubernetes-group-version-kind'], [gvkOf(r)]);
      assert.deepEqual(definition.properties.metadata.$ref, '#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta');
    });
  }

  it('names schemas the way kube-apiserver names CRD schemas', () => {
    assert.equal(schemaName('Database'), 'dev.strongroom.v1alpha1.Database');
    for (const r of resources) assert.ok(v3.components.schemas[schemaName(r.listKind)], r.listKind);
  });
});

describe('operations', () => {
  it('carry x-kubernetes-action and a single-object GVK in both documents', () => {
    for (const doc of [v3, v2]) {
      for (const [path, method, op] of operations(doc)) {
        assert.match(op['x-kubernetes-action'], /^(get|list|post|put|patch|delete|deletecollection)$/, `${method} ${path}`);
        const gvk = op['x-kubernetes-group-version-kind'];
        assert.ok(gvk && !Array.isArray(gvk) && gvk.kind, `${method} ${path}`);
      }
    }
  });

  it('never offer strategic merge patch', () => {
    assert.doesNotMatch(JSON.stringify(v3), /strategic-merge-patch/);
    assert.doesNotMatch(JSON.stringify(v2), /strategic-merge-patch/);
    const patches3 = operations(v3).filter(([, m]) => m === 'patch');
    const patches2 = operations(v2).filter(([, m]) => m === 'patch');
    assert.equal(patches3.length, resources.length * 2 + 1, 'item and status patch per resource, plus scale');
    for (const [, , op] of patches3) assert.deepEqual(Object.keys(op.requestBody.content).sort(), [...PATCH_CONTENT_TYPES].sort());
    for (const [, , op] of patches2) assert.deepEqual([...op.consumes].sort(), [...PATCH_CONTENT_TYPES].sort());
  });

  it('declare fieldValidation on writes, so kubectl trusts server-side validation', () => {
    for (const [path, method, op] of operations(v3).filter(([, m]) => m === 'patch' || m === 'put' || m === 'post')) {
      const names = op.parameters.map((p: any) => p.name);
      assert.ok(names.includes('fieldValidation') && names.includes('dryRun') && names.includes('fieldManager'), `${method} ${path}`);
      if (method === 'patch') assert.ok(names.includes('force'));
    }
  });

  it('declare the list parameters, also on the all-namespaces list', () => {
    const expected = ['allowWatchBookmarks', 'continue', 'fieldSelector', 'labelSelector', 'limit', 'resourceVersion', 'resourceVersionMatch', 'sendInitialEvents', 'timeoutSeconds', 'watch'];
    const namespaced = v3.paths['/apis/strongroom.dev/v1alpha1/namespaces/{namespace}/databases'].get.parameters.map((p: any) => p.name);
    assert.deepEqual(namespaced, expected);
    const all = v3.paths['/apis/strongroom.dev/v1alpha1/databases'];
    assert.deepEqual(all.parameters.map((p: any) => p.name), [...expected, 'pretty'].sort());
    assert.equal(all.get['x-kubernetes-action'], 'list');
    assert.ok(all.get.responses['200'].content['application/json;stream=watch']);
  });

  it('serve status and scale subresources', () => {
    const item = '/apis/strongroom.dev/v1alpha1/namespaces/{namespace}/databases/{name}';
    assert.deepEqual(Object.keys(v3.paths[`${item}/status`]).sort(), ['get', 'parameters', 'patch', 'put']);
    const scale = v3.paths[`${item}/scale`];
    for (const m of ['get', 'put', 'patch']) {
      assert.deepEqual(scale[m]['x-kubernetes-group-version-kind'], { group: 'autoscaling', version: 'v1', kind: 'Scale' });
      assert.equal(scale[m].responses['200'].content['application/json'].schema.$ref, '#/components/schemas/io.k8s.api.autoscaling.v1.Scale');
    }
    assert.equal(v2.paths[`${item}/scale`].get.responses['200'].schema.$ref, '#/definitions/io.k8s.api.autoscaling.v1.Scale');
  });

  it('serve the backup and restore actions as POSTs answering the created object', () => {
    const item = '/apis/strongroom.dev/v1alpha1/namespaces/{namespace}/databases/{name}';
    for (const [action, kind, required] of [['backup', 'Backup', undefined], ['restore', 'Restore', true]] as const) {
      const path = v3.paths[`${item}/${action}`];
      assert.deepEqual(Object.keys(path).sort(), ['parameters', 'post']);
      assert.equal(path.post['x-kubernetes-action'], 'post');
      assert.deepEqual(path.post['x-kubernetes-group-version-kind'], { group: 'strongroom.dev', version: 'v1alpha1', kind });
      assert.equal(path.post.requestBody.required, required);
      assert.equal(path.post.responses['201'].content['application/json'].schema.$ref, `#/components/schemas/dev.strongroom.v1alpha1.${kind}`);
    }
  });
});

describe('schemas', () => {
  const upstream = [
    'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta',
    'io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta',
    'io.k8s.apimachinery.pkg.apis.meta.v1.ManagedFieldsEntry',
    'io.k8s.apimachinery.pkg.apis.meta.v1.OwnerReference',
    'io.k8s.apimachinery.pkg.apis.meta.v1.Time',
    'io.k8s.apimachinery.pkg.apis.meta.v1.Status',
    'io.k8s.apimachinery.pkg.apis.meta.v1.StatusDetails',
    'io.k8s.apimachinery.pkg.apis.meta.v1.StatusCause',
    'io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions',
    'io.k8s.apimachinery.pkg.apis.meta.v1.Preconditions',
    'io.k8s.apimachinery.pkg.apis.meta.v1.Patch',
    'io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent',
    'io.k8s.apimachinery.pkg.apis.meta.v1.Condition',
    'io.k8s.api.autoscaling.v1.Scale',
  ];
  it('include the Kubernetes definitions under their upstream names', () => {
    for (const name of upstream) {
      assert.ok(v3.components.schemas[name], name);
      assert.ok(v2.definitions[name], name);
    }
  });

  it('resolve every $ref', () => {
    const refs = (doc: unknown) => [...JSON.stringify(doc).matchAll(/"\$ref":"([^"]+)"/g)].map((m) => m[1]!);
    for (const ref of refs(v3)) assert.ok(v3.components.schemas[ref.replace('#/components/schemas/', '')], ref);
    for (const ref of refs(v2)) assert.ok(v2.definitions[ref.replace('#/definitions/', '')], ref);
  });

  it('reference ObjectMeta and metav1.Condition instead of inlining them', () => {
    const db = v3.components.schemas['dev.strongroom.v1alpha1.Database'];
    assert.deepEqual(db.properties.metadata.allOf, [{ $ref: '#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta' }]);
    const conditions = db.properties.status.properties.conditions;
    assert.deepEqual(conditions.items.allOf, [{ $ref: '#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.Condition' }]);
    assert.equal(conditions['x-kubernetes-list-type'], 'map');
    assert.deepEqual(conditions['x-kubernetes-list-map-keys'], ['type']);
  });

  it('keep Swagger 2.0 free of OpenAPI 3 keywords', () => {
    assert.doesNotMatch(JSON.stringify(v2.definitions), /"(anyOf|oneOf|nullable|default)":/);
    assert.doesNotMatch(JSON.stringify(v2), /#\/components\//);
    assert.equal(v2.swagger, '2.0');
    assert.equal(v3.openapi, '3.0.0');
  });

  it('share no object between two places (YAML would alias them)', () => {
    for (const doc of [openAPIV3(), openAPIV2()]) {
      const seen = new Set<object>();
      const walk = (value: unknown) => {
        if (typeof value !== 'object' || value === null) return;
        assert.ok(!seen.has(value), 'an object appears twice');
        seen.add(value);
        for (const child of Object.values(value)) walk(child);
      };
      walk(doc);
    }
  });
});

describe('openAPIV3Root', () => {
  it('points at the group version document with its hash', () => {
    assert.deepEqual(openAPIV3Root('ABC123'), {
      paths: { 'apis/strongroom.dev/v1alpha1': { serverRelativeURL: '/openapi/v3/apis/strongroom.dev/v1alpha1?hash=ABC123' } },
    });
  });
});
