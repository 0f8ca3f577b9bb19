import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Database } from '../../src/api/database.ts';
import type { KubeObject } from '../../src/api/meta.ts';
import { parseImageCatalog } from '../../src/engines/catalog.ts';
import { engineFor } from '../../src/engines/registry.ts';
import { DEFAULT_AGENT_IMAGE, ImageCatalogSource } from '../../src/controller/images.ts';
import { ObjectCache } from '../../src/controller/runtime/cache.ts';

const FILE = parseImageCatalog('engines: {postgres: {"17": "file.example/postgres:17.6", "16": "file.example/postgres:16.10"}}\nagent: file.example/strongroom:1', 'file');

function configMap(catalog: string, resourceVersion = '1', name = 'strongroom-images'): KubeObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'strongroom-system', resourceVersion }, data: { 'catalog.yaml': catalog } };
}

function db(spec: Partial<Database['spec']> = {}): Database {
  return { apiVersion: 'strongroom.dev/v1alpha1', kind: 'Database', metadata: { name: 'orders', namespace: 'shop' }, spec: { engine: 'postgres', ...spec } };
}

const postgres = engineFor('postgres');

describe('ImageCatalogSource', () => {
  it("uses the engines' official images and this release's agent without a catalog", () => {
    const source = new ImageCatalogSource({});
    assert.equal(source.imageFor(postgres, db(), '17'), 'docker.io/library/postgres:17');
    assert.equal(source.agentImage(), DEFAULT_AGENT_IMAGE);
    assert.equal(new ImageCatalogSource({ agentImage: 'flag.example/strongroom:2' }).agentImage(), 'flag.example/strongroom:2');
  });

  it('lets the ConfigMap win over the file, entry by entry, as soon as the informer has it', () => {
    const configMaps = new ObjectCache();
    const source = new ImageCatalogSource({ file: FILE, configMaps, namespace: 'strongroom-system', agentImage: 'flag.example/strongroom:2' });
    assert.equal(source.imageFor(postgres, db(), '17.2'), 'file.example/postgres:17.6');
    assert.equal(source.agentImage(), 'file.example/strongroom:1', 'the catalog names the agent over the flag');

    configMaps.upsert(configMap('engines: {postgres: {"17": "cm.example/postgres:17.7"}}\nagent: cm.example/strongroom:3'));
    assert.equal(source.imageFor(postgres, db(), '17.2'), 'cm.example/postgres:17.7');
    assert.equal(source.imageFor(postgres, db(), '16'), 'file.example/postgres:16.10');
    assert.equal(source.agentImage(), 'cm.example/strongroom:3');

    configMaps.remove(configMap('', '1'));
    assert.equal(source.imageFor(postgres, db(), '17.2'), 'file.example/postgres:17.6');
  });

  it('ignores a ConfigMap that does not parse, keeping the file', () => {
    const configMaps = new ObjectCache();
    const warnings: unknown[] = [];
    const logger = { warn: (...args: unknown[]) => warnings.push(args) } as never;
    const source = new ImageCatalogSource({ file: FILE, configMaps, namespace: 'strongroom-system', logger });
    configMaps.upsert(configMap('engines: {postgres: {"17": "NOT AN IMAGE"}}'));
    assert.equal(source.imageFor(postgres, db(), '17'), 'file.example/postgres:17.6');
    assert.equal(source.imageFor(postgres, db(), '17'), 'file.example/postgres:17.6');
    assert.equal(warnings.length, 1, 'warned once per version of the ConfigMap');
  });

  it('runs spec.image over any catalog', () => {
    const source = new ImageCatalogSource({ file: FILE });
    assert.equal(source.imageFor(postgres, db({ image: 'mine.example/pg:17-custom' }), '17'), 'mine.example/pg:17-custom');
  });
});
