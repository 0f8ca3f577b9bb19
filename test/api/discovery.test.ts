import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  aggregatedDiscovery,
  apiGroup,
  apiGroupList,
  apiResourceList,
  discoveryETag,
  storageVersionHash,
} from '../../src/api/discovery.ts';

const ALL_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

describe('apiResourceList', () => {
  const list = apiResourceList();
  const entry = (name: string) => list.resources.find((r) => r.name === name) as Record<string, unknown>;

  it('is an APIResourceList of the group version', () => {
    assert.equal(list.kind, 'APIResourceList');
    assert.equal(list.apiVersion, 'v1');
    assert.equal(list.groupVersion, 'strongroom.dev/v1alpha1');
  });

  it('lists resources and subresources in path order', () => {
    assert.deepEqual(
      list.resources.map((r) => r.name),
      ['backups', 'backups/status', 'databases', 'databases/backup', 'databases/restore', 'databases/scale', 'databases/status', 'restores', 'restores/status'],
    );
  });

  it('describes databases fully', () => {
    assert.deepEqual(entry('databases'), {
      name: 'databases',
      singularName: 'database',
      namespaced: true,
      kind: 'Database',
      verbs: ALL_VERBS,
      shortNames: ['db'],
      categories: ['strongroom', 'all'],
      storageVersionHash: storageVersionHash('strongroom.dev', 'v1alpha1', 'Database'),
    });
  });

  it('sorts every verb list', () => {
    for (const r of list.resources) assert.deepEqual(r.verbs, [...r.verbs].sort(), r.name);
  });

  it('gives subresources their kinds and verbs, Scale in autoscaling/v1', () => {
    assert.deepEqual(entry('databases/status'), { name: 'databases/status', singularName: '', namespaced: true, kind: 'Database', verbs: ['get', 'patch', 'update'] });
    assert.deepEqual(entry('databases/scale'), {
      name: 'databases/scale',
      singularName: '',
      namespaced: true,
      group: 'autoscaling',
      version: 'v1',
      kind: 'Scale',
      verbs: ['get', 'patch', 'update'],
    });
    assert.deepEqual(entry('databases/backup'), { name: 'databases/backup', singularName: '', namespaced: true, kind: 'Backup', verbs: ['create'] });
    assert.deepEqual(entry('databases/restore'), { name: 'databases/restore', singularName: '', namespaced: true, kind: 'Restore', verbs: ['create'] });
  });

  it('leaves out empty short names', () => {
    assert.equal('shortNames' in entry('backups'), false);
    assert.deepEqual(entry('backups').categories, ['strongroom']);
  });
});

describe('storageVersionHash', () => {
  it('is base64 of the first 8 bytes of sha256("group/version/kind")', () => {
    const expected = createHash('sha256').update('strongroom.dev/v1alpha1/Database').digest().subarray(0, 8).toString('base64');
    assert.equal(storageVersionHash('strongroom.dev', 'v1alpha1', 'Database'), expected);
    // As discovery.StorageVersionHash computes it for apps/v1 Deployment.
    assert.equal(storageVersionHash('apps', 'v1', 'Deployment'), '8aSe+NMegvE=');
  });
});

describe('apiGroup and apiGroupList', () => {
  const version = { groupVersion: 'strongroom.dev/v1alpha1', version: 'v1alpha1' };
  it('describe the one group and version', () => {
    assert.deepEqual(apiGroup(), { kind: 'APIGroup', apiVersion: 'v1', name: 'strongroom.dev', versions: [version], preferredVersion: version });
    assert.deepEqual(apiGroupList(), {
      kind: 'APIGroupList',
      apiVersion: 'v1',
      groups: [{ name: 'strongroom.dev', versions: [version], preferredVersion: version }],
    });
  });
});

describe('aggregatedDiscovery', () => {
  const doc = aggregatedDiscovery();
  const version = doc.items[0]!.versions[0]!;

  it('is an apidiscovery.k8s.io/v2 APIGroupDiscoveryList of our group only', () => {
    assert.equal(doc.kind, 'APIGroupDiscoveryList');
    assert.equal(doc.apiVersion, 'apidiscovery.k8s.io/v2');
    assert.deepEqual(doc.items.map((g) => g.metadata.name), ['strongroom.dev']);
    assert.deepEqual(doc.items[0]!.versions.map((v) => [v.version, v.freshness]), [['v1alpha1', 'Current']]);
  });

  it('gives every resource and subresource a responseKind', () => {
    for (const r of version.resources) {
      assert.ok(r.responseKind?.kind, r.resource);
      for (const s of r.subresources) assert.ok(s.responseKind?.kind && s.acceptedTypes.length > 0, `${r.resource}/${s.subresource}`);
    }
    assert.doesNotMatch(JSON.stringify(doc), /null/);
  });

  it('describes databases and their subresources', () => {
    const db = version.resources.find((r) => r.resource === 'databases')!;
    assert.deepEqual(
      { ...db, subresources: undefined },
      {
        resource: 'databases',
        responseKind: { group: 'strongroom.dev', version: 'v1alpha1', kind: 'Database' },
        scope: 'Namespaced',
        singularResource: 'database',
        verbs: ALL_VERBS,
        shortNames: ['db'],
        categories: ['strongroom', 'all'],
        subresources: undefined,
      },
    );
    assert.deepEqual(
      db.subresources.map((s) => [s.subresource, s.responseKind.group, s.responseKind.kind, s.verbs.join(',')]),
      [
        ['backup', 'strongroom.dev', 'Backup', 'create'],
        ['restore', 'strongroom.dev', 'Restore', 'create'],
        ['scale', 'autoscaling', 'Scale', 'get,patch,update'],
        ['status', 'strongroom.dev', 'Database', 'get,patch,update'],
      ],
    );
  });

  it('lists resources alphabetically', () => {
    assert.deepEqual(version.resources.map((r) => r.resource), ['backups', 'databases', 'restores']);
  });
});

describe('discoveryETag', () => {
  it('is the quoted upper-case SHA-512 of the JSON, and changes with the document', () => {
    const doc = aggregatedDiscovery();
    const etag = discoveryETag(doc);
    assert.match(etag, /^"[0-9A-F]{128}"$/);
    assert.equal(etag, `"${createHash('sha512').update(JSON.stringify(doc)).digest('hex').toUpperCase()}"`);
    assert.equal(discoveryETag(aggregatedDiscovery()), etag);
    assert.notEqual(discoveryETag({ ...doc, items: [] }), etag);
  });
});
