// The engine rules of a Database's spec, as admission applies them (the HTTPS table is test/server/engine-spec.test.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyEngineDefaults, engineUpdateErrors, validateEngineSpec, type EngineSpec } from '../../src/api/engine-spec.ts';

const fields = (spec: EngineSpec, path = 'spec') => validateEngineSpec(spec, path).map((e) => `${e.type} ${e.field}`);

describe('validateEngineSpec', () => {
  const refused: [string, EngineSpec, string[]][] = [
    ['a managed postgres setting', { engine: 'postgres', parameters: { port: '6000' } }, ['FieldValueForbidden spec.parameters[port]']],
    ['a postgres setting Strongroom writes itself', { engine: 'postgres', parameters: { primary_conninfo: 'x' } }, ['FieldValueForbidden spec.parameters[primary_conninfo]']],
    ['a postgres key that could inject a line', { engine: 'postgres', parameters: { 'work_mem = 1\nport': '1' } }, ['FieldValueInvalid spec.parameters[work_mem = 1\nport]']],
    ['a redis include', { engine: 'redis', parameters: { include: '/etc/passwd' } }, ['FieldValueForbidden spec.parameters[include]']],
    ['an etcd flag set on the command line', { engine: 'etcd', parameters: { 'listen-metrics-urls': 'http://x' } }, ['FieldValueForbidden spec.parameters[listen-metrics-urls]']],
    ['a NUL in a value', { engine: 'redis', parameters: { appendonly: 'ye\0s' } }, ['FieldValueInvalid spec.parameters[appendonly]']],
    ['an unsupported version', { engine: 'postgres', version: '12' }, ['FieldValueNotSupported spec.version']],
    ['a malformed version', { engine: 'etcd', version: 'latest' }, ['FieldValueInvalid spec.version']],
    ['too many members', { engine: 'etcd', replicas: 9 }, ['FieldValueInvalid spec.replicas']],
    ['an even etcd cluster', { engine: 'etcd', replicas: 4 }, ['FieldValueInvalid spec.replicas']],
    [
      'several problems, each with its own path, parameters in key order',
      { engine: 'redis', version: '5.0', parameters: { dir: '/', Bad: 'x' } },
      ['FieldValueNotSupported spec.version', 'FieldValueInvalid spec.parameters[Bad]', 'FieldValueForbidden spec.parameters[dir]'],
    ],
  ];
  for (const [name, spec, expected] of refused) {
    it(`refuses ${name}`, () => assert.deepEqual(fields(spec), expected));
  }

  const accepted: [string, EngineSpec][] = [
    ['postgres settings with a dot', { engine: 'postgres', version: '16.4', parameters: { 'pg_stat_statements.max': '1000' } }],
    ['redis multi-word values', { engine: 'redis', version: '7.2.5', replicas: 3, parameters: { save: '900 1 300 10', appendonly: '' } }],
    ['an odd etcd cluster', { engine: 'etcd', version: '3.6', replicas: 5, parameters: { 'snapshot-count': '5000' } }],
    ['an engine the schema refuses anyway', { engine: 'oracle', version: 'x' }],
  ];
  for (const [name, spec] of accepted) {
    it(`accepts ${name}`, () => assert.deepEqual(fields(spec), []));
  }

  it('reports under the path it is given', () => {
    assert.deepEqual(fields({ engine: 'redis', parameters: { include: 'x' } }, 'status.databaseSpec'), [
      'FieldValueForbidden status.databaseSpec.parameters[include]',
    ]);
  });
});

describe('engineUpdateErrors', () => {
  const cases: [string, Partial<EngineSpec>, Partial<EngineSpec>, string[]][] = [
    ['a major downgrade', { engine: 'postgres', version: '17' }, { engine: 'postgres', version: '16' }, ['spec.version']],
    ['a minor-version downgrade of redis, whose majors are major.minor', { engine: 'redis', version: '7.4' }, { engine: 'redis', version: '7.2' }, ['spec.version']],
    ['a patch downgrade', { engine: 'postgres', version: '17.2' }, { engine: 'postgres', version: '17.1' }, []],
    ['an upgrade', { engine: 'etcd', version: '3.5' }, { engine: 'etcd', version: '3.6' }, []],
    ['a change of engine, which the immutability rule reports', { engine: 'redis', version: '7.4' }, { engine: 'etcd', version: '3.4' }, []],
  ];
  for (const [name, prev, next, expected] of cases) {
    it(name, () => assert.deepEqual(engineUpdateErrors(next, prev, 'spec').map((e) => e.field), expected));
  }
});

describe('applyEngineDefaults', () => {
  it("sets each engine's default version and keeps a named one", () => {
    for (const [engine, version] of [['postgres', '17'], ['redis', '7.2'], ['etcd', '3.5']] as const) {
      const spec: Partial<EngineSpec> = { engine };
      applyEngineDefaults(spec);
      assert.equal(spec.version, version);
    }
    const named: Partial<EngineSpec> = { engine: 'postgres', version: '15' };
    applyEngineDefaults(named);
    assert.equal(named.version, '15');
  });
});
