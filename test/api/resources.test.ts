import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { byKind, byPlural, resources } from '../../src/api/resources.ts';

describe('resources', () => {
  it('serves databases, backups and restores', () => {
    assert.deepEqual(resources.map((r) => `${r.plural}/${r.kind}/${r.listKind}/${r.singular}`), [
      'databases/Database/DatabaseList/database',
      'backups/Backup/BackupList/backup',
      'restores/Restore/RestoreList/restore',
    ]);
    assert.ok(resources.every((r) => r.group === 'strongroom.dev' && r.version === 'v1alpha1' && r.namespaced));
  });

  it('finds a resource by plural and by kind', () => {
    assert.equal(byPlural('databases')?.kind, 'Database');
    assert.equal(byKind('Restore')?.plural, 'restores');
    assert.equal(byPlural('Database'), undefined);
    assert.equal(byKind('databases'), undefined);
  });

  it('only acts into resources it serves', () => {
    for (const r of resources) {
      for (const action of Object.values(r.subresources.actions)) assert.equal(byPlural(action.creates)?.kind, action.kind);
    }
  });

  it('has structural schemas: every node typed (or int-or-string) and described', () => {
    const problems: string[] = [];
    const walk = (node: any, path: string) => {
      if (!node.type && !node['x-kubernetes-int-or-string']) problems.push(`${path}: no type`);
      if (!node.description && path.includes('.') && !/\[\]$|\{\}$/.test(path)) problems.push(`${path}: no description`);
      for (const [k, v] of Object.entries(node.properties ?? {})) walk(v, `${path}.${k}`);
      if (node.items) walk(node.items, `${path}[]`);
      if (typeof node.additionalProperties === 'object') walk(node.additionalProperties, `${path}{}`);
    };
    for (const r of resources) walk(r.schema, r.kind);
    assert.deepEqual(problems, []);
  });
});
