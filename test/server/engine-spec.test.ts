// Every rule about an engine's spec holds at admission: each input an engine cannot run is answered with 422 Invalid
// and the field that is wrong, over HTTPS, on create and on update, and nothing is stored.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DB_PATH, database, startTestServer, type TestServer } from '../support/server.ts';

let t: TestServer;
before(async () => {
  t = await startTestServer();
});
after(async () => {
  await t.stop();
});

interface Case {
  name: string;
  spec: Record<string, unknown>;
  /** The causes expected, as `type field`. */
  causes: string[];
  /** An older major than the default one the update starts from, which is also refused as a downgrade. */
  downgrade?: boolean;
}

const CASES: Case[] = [
  { name: 'a postgres major that is not supported', spec: { version: '12' }, causes: ['FieldValueNotSupported spec.version'], downgrade: true },
  { name: 'a malformed redis version', spec: { engine: 'redis', version: 'seven' }, causes: ['FieldValueInvalid spec.version'] },
  { name: 'an etcd cluster of an even size', spec: { engine: 'etcd', replicas: 2 }, causes: ['FieldValueInvalid spec.replicas'] },
  {
    name: 'a redis include, which would read another file over the managed settings',
    spec: { engine: 'redis', parameters: { include: '/etc/passwd' } },
    causes: ['FieldValueForbidden spec.parameters[include]'],
  },
  {
    name: 'a postgres primary_conninfo, which Strongroom writes for the replicas',
    spec: { parameters: { primary_conninfo: 'host=evil' } },
    causes: ['FieldValueForbidden spec.parameters[primary_conninfo]'],
  },
  { name: 'a postgres port', spec: { parameters: { port: '5433' } }, causes: ['FieldValueForbidden spec.parameters[port]'] },
  {
    name: 'a redis key with a newline, which would start another directive',
    spec: { engine: 'redis', parameters: { 'maxmemory\nrequirepass': 'x' } },
    causes: ['FieldValueInvalid spec.parameters[maxmemory\nrequirepass]'],
  },
  {
    name: 'a postgres key with a newline',
    spec: { parameters: { 'work_mem\nport': '1' } },
    causes: ['FieldValueInvalid spec.parameters[work_mem\nport]'],
  },
  {
    name: 'a value with a NUL character',
    spec: { engine: 'redis', parameters: { 'maxmemory-policy': 'noeviction\u0000' } },
    causes: ['FieldValueInvalid spec.parameters[maxmemory-policy]'],
  },
  {
    name: 'an etcd flag set on the command line',
    spec: { engine: 'etcd', parameters: { 'listen-metrics-urls': 'http://0.0.0.0:1' } },
    causes: ['FieldValueForbidden spec.parameters[listen-metrics-urls]'],
  },
  {
    name: 'an image that is no image reference',
    spec: { engine: 'redis', image: 'registry.example/redis:7.4 --privileged' },
    causes: ['FieldValueInvalid spec.image'],
  },
  {
    name: 'several wrong parameters at once, each with its own cause',
    spec: { engine: 'etcd', version: '3.3', parameters: { 'data-dir': '/tmp', 'Snapshot_Count': '1' } },
    causes: [
      'FieldValueForbidden spec.parameters[data-dir]',
      'FieldValueInvalid spec.parameters[Snapshot_Count]',
      'FieldValueNotSupported spec.version',
    ],
    downgrade: true,
  },
];

function causes(json: any): string[] {
  return (json.details?.causes ?? []).map((c: any) => `${c.reason} ${c.field}`).sort();
}

describe('engine rules at admission', () => {
  for (const [i, c] of CASES.entries()) {
    it(`refuses ${c.name} on create`, async () => {
      const name = `create-${i}`;
      const res = await t.request('POST', DB_PATH(), { body: database(name, 'default', c.spec) });
      assert.equal(res.status, 422, res.text);
      assert.equal(res.json.reason, 'Invalid');
      assert.deepEqual(causes(res.json), [...c.causes].sort());
      assert.equal((await t.request('GET', `${DB_PATH()}/${name}`)).status, 404, 'nothing is stored');
    });

    it(`refuses ${c.name} on update`, async () => {
      const name = `update-${i}`;
      const engine = (c.spec.engine as string | undefined) ?? 'postgres';
      const created = await t.request('POST', DB_PATH(), { body: database(name, 'default', { engine }) });
      assert.equal(created.status, 201, created.text);
      const res = await t.request('PATCH', `${DB_PATH()}/${name}`, {
        body: JSON.stringify({ spec: c.spec }),
        headers: { 'Content-Type': 'application/merge-patch+json' },
      });
      assert.equal(res.status, 422, res.text);
      const expected = c.downgrade ? [...c.causes, 'FieldValueForbidden spec.version'] : c.causes;
      assert.deepEqual(causes(res.json), [...expected].sort());
      const stored = await t.request('GET', `${DB_PATH()}/${name}`);
      assert.equal(stored.json.metadata.resourceVersion, created.json.metadata.resourceVersion, 'the update is not stored');
    });
  }

  it('accepts parameters an engine can write and gives each engine its default version', async () => {
    const cases: [string, Record<string, string>][] = [
      ['postgres', { work_mem: '64MB', 'pg_stat_statements.max': '1000', search_path: "'$user', public" }],
      ['redis', { 'maxmemory-policy': 'allkeys-lru', save: '900 1 300 10' }],
      ['etcd', { 'snapshot-count': '10000' }],
    ];
    const versions = new Set<string>();
    for (const [engine, parameters] of cases) {
      const res = await t.request('POST', DB_PATH(), { body: database(`fine-${engine}`, 'default', { engine, parameters }) });
      assert.equal(res.status, 201, res.text);
      assert.deepEqual(res.json.spec.parameters, parameters);
      assert.equal(typeof res.json.spec.version, 'string');
      versions.add(res.json.spec.version);
    }
    assert.equal(versions.size, 3, 'each engine has a default of its own');
  });

  it('keeps an image named in spec.image', async () => {
    const res = await t.request('POST', DB_PATH(), { body: database('own-image', 'default', { image: 'registry.example:5000/team/postgres:17.6' }) });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.json.spec.image, 'registry.example:5000/team/postgres:17.6');
  });
});
