import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { catalogImage, EMPTY_CATALOG, isImageReference, mergeCatalogs, parseImageCatalog } from '../../src/engines/catalog.ts';
import { engineFor } from '../../src/engines/registry.ts';

const DOCUMENT = `
engines:
  postgres: {"17": "registry.example/postgres:17.6", "17.2": "registry.example/postgres:17.2-hardened", "15": "registry.example/postgres:15.14"}
  redis: {"7": "registry.example/redis:7.4.2"}
  etcd: {"3.6": "registry.example/etcd:3.6.4"}
agent: registry.example/strongroom:0.1.0
`;

describe('image references', () => {
  const good = [
    'postgres',
    'postgres:17',
    'docker.io/library/postgres:17.6',
    'registry.example:5000/team/redis:7.4.2-alpine',
    'localhost/strongroom:dev',
    'registry.k8s.io/etcd:3.5.21-0',
    `quay.io/x/y@sha256:${'a'.repeat(64)}`,
    `quay.io/x/y:1.0@sha256:${'b'.repeat(64)}`,
    '[::1]:5000/postgres:17',
  ];
  const bad = ['', 'Postgres:17', 'postgres:', 'registry.example/postgres:17 ', 'a b', 'postgres:17\nFROM x', 'http://registry/postgres', 'postgres@sha256:short'];
  for (const ref of good) it(`accepts ${ref}`, () => assert.ok(isImageReference(ref)));
  for (const ref of bad) it(`refuses ${JSON.stringify(ref)}`, () => assert.ok(!isImageReference(ref)));
});

describe('parseImageCatalog', () => {
  it('reads engines by version prefix and the agent image', () => {
    const catalog = parseImageCatalog(DOCUMENT, 'test');
    assert.equal(catalog.agent, 'registry.example/strongroom:0.1.0');
    assert.deepEqual(Object.keys(catalog.engines), ['postgres', 'redis', 'etcd']);
    assert.equal(catalog.engines['redis']!['7'], 'registry.example/redis:7.4.2');
  });

  it('takes an empty document as no catalog', () => {
    assert.deepEqual(parseImageCatalog('', 'test'), EMPTY_CATALOG);
  });

  const refused: [string, string, RegExp][] = [
    ['not YAML', 'engines: [', /catalog test: not YAML/],
    ['an unknown engine', 'engines: {oracle: {"19": "oracle:19"}}', /engines\.oracle: not an engine/],
    ['an unknown key', 'images: {}', /unknown key images/],
    ['a prefix that is no version', 'engines: {postgres: {"latest": "postgres:latest"}}', /"latest" is not a version prefix/],
    ['a bad image', 'engines: {postgres: {"17": "not an image"}}', /engines\.postgres\.17: "not an image" is not an image reference/],
    ['a bad agent image', 'agent: 42', /agent: 42 is not an image reference/],
    ['engines that are a list', 'engines: [postgres]', /engines must be a map/],
  ];
  for (const [name, text, message] of refused) {
    it(`refuses ${name}, naming the source and the entry`, () => assert.throws(() => parseImageCatalog(text, 'test'), message));
  }
});

describe('catalogImage', () => {
  const catalog = parseImageCatalog(DOCUMENT, 'test');
  const cases: [string, string, string][] = [
    ['postgres', '17', 'registry.example/postgres:17.6'],
    ['postgres', '17.4', 'registry.example/postgres:17.6'],
    ['postgres', '17.2', 'registry.example/postgres:17.2-hardened'],
    ['postgres', '15', 'registry.example/postgres:15.14'],
    // "1" of no key matches "16": prefixes match whole version components.
    ['postgres', '16', 'docker.io/library/postgres:16'],
    ['redis', '7.2.5', 'registry.example/redis:7.4.2'],
    ['redis', '6.2', 'docker.io/library/redis:6.2'],
    ['etcd', '3.6', 'registry.example/etcd:3.6.4'],
    ['etcd', '3.5', 'registry.k8s.io/etcd:3.5.21-0'],
  ];
  for (const [engine, version, image] of cases) {
    it(`${engine} ${version} runs ${image}`, () => assert.equal(catalogImage(catalog, engineFor(engine as 'postgres'), version), image));
  }
  it('does not take a key as a prefix of a longer number', () => {
    const one = parseImageCatalog('engines: {postgres: {"1": "registry.example/postgres:1"}}', 'test');
    assert.equal(catalogImage(one, engineFor('postgres'), '17'), 'docker.io/library/postgres:17');
  });
});

describe('mergeCatalogs', () => {
  it('lays the override over the base entry by entry', () => {
    const base = parseImageCatalog(DOCUMENT, 'file');
    const over = parseImageCatalog('engines: {postgres: {"17": "mirror.example/postgres:17.7"}}', 'configmap');
    const merged = mergeCatalogs(base, over);
    assert.equal(merged.engines['postgres']!['17'], 'mirror.example/postgres:17.7');
    assert.equal(merged.engines['postgres']!['15'], 'registry.example/postgres:15.14');
    assert.equal(merged.engines['redis']!['7'], 'registry.example/redis:7.4.2');
    assert.equal(merged.agent, 'registry.example/strongroom:0.1.0');
    assert.equal(mergeCatalogs(base, { engines: {}, agent: 'mirror.example/strongroom:0.1.0' }).agent, 'mirror.example/strongroom:0.1.0');
  });
});
