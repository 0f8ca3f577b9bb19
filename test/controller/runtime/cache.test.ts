import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeObject } from '../../../src/api/meta.ts';
import { ObjectCache, type ResourceEventHandler } from '../../../src/controller/runtime/cache.ts';

function configMap(namespace: string, name: string, resourceVersion: string, data: Record<string, string> = {}): KubeObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { namespace, name, resourceVersion }, data };
}

/** A handler that writes down what it hears, as `add ns/name@rv` lines. */
function recorder(): { events: string[]; handler: ResourceEventHandler } {
  const events: string[] = [];
  const id = (obj: KubeObject) => `${obj.metadata.namespace}/${obj.metadata.name}@${obj.metadata.resourceVersion}`;
  return {
    events,
    handler: {
      add: (obj) => events.push(`add ${id(obj)}`),
      update: (old, obj) => events.push(`update ${id(old)} -> ${obj.metadata.resourceVersion}`),
      delete: (obj) => events.push(`delete ${id(obj)}`),
    },
  };
}

describe('ObjectCache', () => {
  it('tells handlers of adds, updates and deletes, and serves get and list by namespace', () => {
    const cache = new ObjectCache();
    const { events, handler } = recorder();
    cache.addEventHandler(handler);
    cache.upsert(configMap('a', 'one', '1'));
    cache.upsert(configMap('b', 'two', '2'));
    cache.upsert(configMap('a', 'one', '3'));
    cache.upsert(configMap('a', 'one', '3')); // same version: no news
    cache.remove(configMap('b', 'two', '4'));
    cache.remove(configMap('b', 'unknown', '5'));
    assert.deepEqual(events, ['add a/one@1', 'add b/two@2', 'update a/one@1 -> 3', 'delete b/two@4']);
    assert.equal(cache.get('a', 'one')?.metadata.resourceVersion, '3');
    assert.equal(cache.get('b', 'two'), undefined);
    assert.deepEqual(cache.list('a').map((obj) => obj.metadata.name), ['one']);
    assert.deepEqual(cache.list('b'), []);
    assert.equal(cache.list().length, 1);
  });

  it('on replace reports only the difference from what it held, and then counts as synced', async () => {
    const cache = new ObjectCache();
    const synced = cache.waitForSync();
    cache.upsert(configMap('a', 'kept', '1'));
    cache.upsert(configMap('a', 'changed', '2'));
    cache.upsert(configMap('a', 'gone', '3'));
    cache.upsert(configMap('b', 'gone-with-namespace', '4'));
    const { events, handler } = recorder();
    cache.addEventHandler(handler);
    events.length = 0;
    assert.equal(cache.hasSynced(), false);
    cache.replace([configMap('a', 'kept', '1'), configMap('a', 'changed', '5'), configMap('c', 'new', '6')]);
    assert.deepEqual(events.sort(), [
      'add c/new@6',
      'delete a/gone@3',
      'delete b/gone-with-namespace@4',
      'update a/changed@2 -> 5',
    ]);
    assert.equal(cache.hasSynced(), true);
    await synced;
    assert.deepEqual(cache.list().map((obj) => obj.metadata.name).sort(), ['changed', 'kept', 'new']);
  });

  it('replays an add per cached object to a late handler, and stops telling a removed one', () => {
    const cache = new ObjectCache();
    cache.replace([configMap('a', 'one', '1'), configMap('a', 'two', '2')]);
    const { events, handler } = recorder();
    const remove = cache.addEventHandler(handler);
    assert.deepEqual(events.sort(), ['add a/one@1', 'add a/two@2']);
    remove();
    cache.upsert(configMap('a', 'three', '3'));
    assert.equal(events.length, 2);
  });

  it('keeps telling other handlers when one throws', () => {
    const cache = new ObjectCache();
    cache.addEventHandler({
      add: () => {
        throw new Error('handler bug');
      },
    });
    const { events, handler } = recorder();
    cache.addEventHandler(handler);
    cache.upsert(configMap('a', 'one', '1'));
    assert.deepEqual(events, ['add a/one@1']);
  });

  it('freezes what it holds, so a reader cannot change it for every other reader', () => {
    const cache = new ObjectCache();
    cache.upsert(configMap('a', 'one', '1', { key: 'value' }));
    const obj = cache.get('a', 'one')!;
    assert.throws(() => {
      (obj.data as Record<string, string>).key = 'changed';
    }, TypeError);
  });

  it('rejects waitForSync when its signal aborts first', async () => {
    const cache = new ObjectCache();
    const abort = new AbortController();
    const waiting = cache.waitForSync(abort.signal);
    abort.abort(new Error('stopping'));
    await assert.rejects(waiting, /stopping/);
  });
});
