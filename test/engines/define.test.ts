import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defineEngine, type Renderable } from '../../src/engines/define.ts';
import type { DesiredState } from '../../src/engines/engine.ts';
import { redis } from '../../src/engines/redis/index.ts';
import { database, passwordCounter } from './fixtures.ts';

/** An engine whose render records what it was given. */
function recordingEngine() {
  const calls: Renderable[] = [];
  const engine = defineEngine({
    ...redis,
    credentialKeys: ['b', 'a'],
    defaultImage: (version) => `example/redis:${version.split('.').slice(0, 2).join('.')}`,
    render: (_db, _ctx, renderable) => {
      calls.push(renderable);
      return { credentials: renderable.credentials, objects: [], status: { selector: '', endpoints: {}, connectionSecret: '' } } as DesiredState;
    },
  });
  return { engine, calls };
}

describe('defineEngine', () => {
  it('renders with the version, its image, the credentials Secret and its passwords', () => {
    const { engine, calls } = recordingEngine();
    const existing = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'orders-credentials' }, data: { b: Buffer.from('kept').toString('base64') } };
    const state = engine.desired(database('redis', { version: '7.2.5' }), { credentials: existing, generatePassword: passwordCounter().next });
    assert.equal(calls.length, 1);
    assert.equal(calls[0]!.version, '7.2.5');
    assert.equal(calls[0]!.image, 'example/redis:7.2');
    assert.deepEqual(calls[0]!.passwords, { a: 'generated1', b: 'kept' });
    assert.equal(state.credentials, calls[0]!.credentials);
    assert.equal(state.credentials.metadata.name, 'orders-credentials');
  });

  it("renders the engine's default version when the spec names none", () => {
    const { engine, calls } = recordingEngine();
    engine.desired(database('redis'), { credentials: undefined, generatePassword: passwordCounter().next });
    assert.equal(calls[0]!.version, '7.2');
  });

  it('renders the image the controller passes (the catalog or spec.image) over the default', () => {
    const { engine, calls } = recordingEngine();
    engine.desired(database('redis'), { credentials: undefined, generatePassword: passwordCounter().next, image: 'registry.example/redis:7.2.9' });
    assert.equal(calls[0]!.image, 'registry.example/redis:7.2.9');
  });

  it('judges upgrades with the rules and images of its engine', () => {
    const { engine } = recordingEngine();
    assert.equal(engine.upgradeKind('7.2.4', '7.2.5'), 'none');
    assert.equal(engine.upgradeKind('7.0', '7.2'), 'major');
  });
});
