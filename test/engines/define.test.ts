import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import { StatusError } from '../../src/api/errors.ts';
import { defineEngine, type Renderable } from '../../src/engines/define.ts';
import type { DesiredState } from '../../src/engines/engine.ts';
import { database, passwordCounter } from './fixtures.ts';

/** An engine whose render records what it was given. */
function recordingEngine() {
  const calls: Renderable[] = [];
  const engine = defineEngine({
    name: 'redis',
    defaultPort: 6379,
    credentialKeys: ['b', 'a'],
    image: (version) => `example/redis:${version.split('.').slice(0, 2).join('.')}`,
    parameters: { keyPattern: /^[a-z-]+$/, keyDescription: 'a test key', alsoManaged: ['include'] },
    render: (_db, _ctx, renderable) => {
      calls.push(renderable);
      return { credentials: renderable.credentials, objects: [], status: { selector: '', endpoints: {}, connectionSecret: '' } } as DesiredState;
    },
  });
  return { engine, calls };
}

describe('defineEngine', () => {
  it('renders with the version, the credentials Secret and its passwords', () => {
    const { engine, calls } = recordingEngine();
    const existing = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'orders-credentials' }, data: { b: Buffer.from('kept').toString('base64') } };
    const state = engine.desired(database('redis', { version: '7.2.5' }), { credentials: existing, generatePassword: passwordCounter().next });
    assert.equal(calls.length, 1);
    assert.equal(calls[0]!.version, '7.2.5');
    assert.deepEqual(calls[0]!.passwords, { a: 'generated1', b: 'kept' });
    assert.equal(state.credentials, calls[0]!.credentials);
    assert.equal(state.credentials.metadata.name, 'orders-credentials');
  });

  it("renders the engine's default version when the spec names none", () => {
    const { engine, calls } = recordingEngine();
    engine.desired(database('redis'), { credentials: undefined, generatePassword: passwordCounter().next });
    assert.equal(calls[0]!.version, '7.2');
  });

  const refused: [string, Record<string, unknown>, string[]][] = [
    ['an unsupported version', { version: '5.0' }, ['spec.version']],
    ['a parameter the API manages', { parameters: { port: '1' } }, ['spec.parameters[port]']],
    ['a parameter the engine also manages', { parameters: { include: '/x' } }, ['spec.parameters[include]']],
    ['a key the engine cannot write', { parameters: { Bad: 'x' } }, ['spec.parameters[Bad]']],
    ['both a bad version and a bad parameter', { version: 'x', parameters: { port: '1' } }, ['spec.version', 'spec.parameters[port]']],
  ];
  for (const [name, spec, fields] of refused) {
    it(`refuses ${name} as Invalid without rendering or making passwords`, () => {
      const { engine, calls } = recordingEngine();
      const passwords = passwordCounter();
      assert.throws(
        () => engine.desired(database('redis', spec), { credentials: undefined, generatePassword: passwords.next }),
        (e: unknown) =>
          e instanceof StatusError && e.code === 422 && isDeepStrictEqual(e.details?.causes?.map((c) => c.field), fields),
      );
      assert.equal(calls.length, 0);
      assert.equal(passwords.calls, 0);
    });
  }

  it('checks parameters and upgrades with the rules of its engine', () => {
    const { engine } = recordingEngine();
    assert.deepEqual(
      engine.parameterErrors({ port: '1', 'maxmemory-policy': 'allkeys-lru' }).map((e) => e.field),
      ['spec.parameters[port]'],
    );
    assert.equal(engine.upgradeKind('7.2.4', '7.2.5'), 'none');
    assert.equal(engine.upgradeKind('7.0', '7.2'), 'major');
  });
});

