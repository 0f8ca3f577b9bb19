import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StatusError } from '../../src/api/errors.ts';
import type { KubeObject } from '../../src/api/meta.ts';
import { ChildWriter } from '../../src/controller/children.ts';
import { FakeClient } from './fakeclient.ts';

const desired = (data: string): KubeObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'orders-config', namespace: 'shop' }, data: { a: data } });

/** The ConfigMap as the apiserver would store it: our Apply entry's time moves only when the apply changed it. */
function stored(uid: string, resourceVersion: string, appliedAt: string): KubeObject {
  return {
    ...desired('x'),
    metadata: {
      name: 'orders-config',
      namespace: 'shop',
      uid,
      resourceVersion,
      managedFields: [{ manager: 'strongroom', operation: 'Apply', apiVersion: 'v1', time: appliedAt, fieldsType: 'FieldsV1', fieldsV1: {} }],
    },
  };
}

describe('ChildWriter', () => {
  it('applies with server-side apply under the field manager, forced', async () => {
    const client = new FakeClient();
    client.answer = () => stored('u1', '1', 't1');
    await new ChildWriter(client).apply(desired('x'), undefined);
    assert.equal(client.calls.length, 1);
    const [call] = client.calls;
    assert.equal(call!.method, 'PATCH');
    assert.equal(call!.path, '/api/v1/namespaces/shop/configmaps/orders-config');
    assert.equal(call!.options?.contentType, 'application/apply-patch+yaml');
    assert.deepEqual(call!.options?.query, { fieldManager: 'strongroom', force: true });
  });

  it('skips an apply when neither the desired object nor the live one changed since the last apply', async () => {
    const client = new FakeClient();
    const writer = new ChildWriter(client);
    client.answer = () => stored('u1', '1', 't1');
    const first = await writer.apply(desired('x'), undefined);
    assert.equal(first.change, 'created');
    const skipped = await writer.apply(desired('x'), stored('u1', '1', 't1'));
    assert.equal(client.calls.length, 1, 'no second request');
    assert.equal(skipped.change, undefined);
  });

  const cases: Array<{ name: string; live: KubeObject | undefined; next: string; answer: KubeObject; change: string | undefined }> = [
    { name: 'a live object edited by someone else is applied again; a no-op apply reports nothing', live: stored('u1', '5', 't1'), next: 'x', answer: stored('u1', '5', 't1'), change: undefined },
    { name: 'a changed desired object is an update', live: stored('u1', '1', 't1'), next: 'y', answer: stored('u1', '2', 't2'), change: 'updated' },
    { name: 'another writer moving the resourceVersion meanwhile is not our update', live: stored('u1', '1', 't1'), next: 'y', answer: stored('u1', '7', 't1'), change: undefined },
    { name: 'a new uid is a recreation of a deleted child', live: undefined, next: 'x', answer: stored('u2', '9', 't3'), change: 'recreated' },
    { name: 'a cache that lags behind our own write reports nothing', live: undefined, next: 'x', answer: stored('u1', '1', 't1'), change: undefined },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const client = new FakeClient();
      const writer = new ChildWriter(client);
      client.answer = () => stored('u1', '1', 't1');
      await writer.apply(desired('x'), undefined);
      client.answer = () => c.answer;
      const outcome = await writer.apply(desired(c.next), c.live);
      assert.equal(client.calls.length, 2, 'applied again');
      assert.equal(outcome.change, c.change);
      assert.equal(outcome.object, c.answer);
    });
  }

  it('deletes in the background, counts a missing child as deleted, and forgets it', async () => {
    const client = new FakeClient();
    const writer = new ChildWriter(client);
    client.answer = () => stored('u1', '1', 't1');
    await writer.apply(desired('x'), undefined);
    client.answer = () => {
      throw new StatusError(404, 'NotFound', 'gone');
    };
    await writer.delete(stored('u1', '1', 't1'));
    assert.deepEqual(client.calls[1], {
      method: 'DELETE',
      path: '/api/v1/namespaces/shop/configmaps/orders-config',
      options: { query: { propagationPolicy: 'Background' }, signal: undefined },
    });
    client.answer = () => stored('u2', '3', 't4');
    assert.equal((await writer.apply(desired('x'), undefined)).change, 'created', 'forgotten: a creation, not a recreation');
  });
});
