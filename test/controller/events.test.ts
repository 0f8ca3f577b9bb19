import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import { StatusError } from '../../src/api/errors.ts';
import type { KubeObject } from '../../src/api/meta.ts';
import { EventRecorder, type EventInput } from '../../src/controller/events.ts';
import { FakeClient } from './fakeclient.ts';

const DB: KubeObject = { apiVersion: 'strongroom.dev/v1alpha1', kind: 'Database', metadata: { name: 'orders', namespace: 'shop', uid: 'u1', resourceVersion: '7' } };
const SCALING: EventInput = { type: 'Normal', reason: 'Scaling', action: 'Scale', note: 'from 1 to 3' };

function setup() {
  const client = new FakeClient();
  let now = Date.parse('2026-01-01T00:00:00.000Z');
  client.answer = (call) => (call.method === 'POST' ? { ...(call.options?.body as object), metadata: { name: 'orders.1', namespace: 'shop' } } : {});
  const recorder = new EventRecorder({ client, instance: 'replica-a', logger: pino({ level: 'silent' }), seriesWindowMs: 60_000, now: () => new Date(now) });
  return { client, recorder, advance: (ms: number) => (now += ms) };
}

describe('EventRecorder', () => {
  it('creates an events.k8s.io/v1 Event regarding the object', async () => {
    const { client, recorder } = setup();
    await recorder.record(DB, SCALING);
    const [call] = client.calls;
    assert.equal(call!.method, 'POST');
    assert.equal(call!.path, '/apis/events.k8s.io/v1/namespaces/shop/events');
    const event = call!.options?.body as Record<string, any>;
    assert.equal(event.reportingController, 'strongroom.dev/controller');
    assert.equal(event.reportingInstance, 'replica-a');
    assert.equal(event.eventTime, '2026-01-01T00:00:00.000000Z');
    assert.deepEqual(event.regarding, { apiVersion: 'strongroom.dev/v1alpha1', kind: 'Database', namespace: 'shop', name: 'orders', uid: 'u1', resourceVersion: '7' });
    assert.deepEqual([event.type, event.reason, event.action, event.note], ['Normal', 'Scaling', 'Scale', 'from 1 to 3']);
    assert.match(event.metadata.name, /^orders\.[0-9a-f]+$/);
  });

  it('counts a repeat within the window in the series of the same Event', async () => {
    const { client, recorder, advance } = setup();
    await recorder.record(DB, SCALING);
    advance(1000);
    await recorder.record(DB, SCALING);
    advance(1000);
    await recorder.record(DB, SCALING);
    assert.deepEqual(client.calls.map((c) => c.method), ['POST', 'PATCH', 'PATCH']);
    assert.equal(client.calls[2]!.path, '/apis/events.k8s.io/v1/namespaces/shop/events/orders.1');
    assert.deepEqual(client.calls[2]!.options?.body, { series: { count: 3, lastObservedTime: '2026-01-01T00:00:02.000000Z' } });
  });

  it('starts a new Event for a different note, after the window, or when the old one is gone', async () => {
    const { client, recorder, advance } = setup();
    await recorder.record(DB, SCALING);
    await recorder.record(DB, { ...SCALING, note: 'from 3 to 1' });
    advance(61_000);
    await recorder.record(DB, SCALING);
    client.answer = (call) => {
      if (call.method === 'PATCH') throw new StatusError(404, 'NotFound', 'expired');
      return { metadata: { name: 'orders.2', namespace: 'shop' } };
    };
    await recorder.record(DB, SCALING);
    assert.deepEqual(client.calls.map((c) => c.method), ['POST', 'POST', 'POST', 'PATCH', 'POST']);
  });

  it('never fails the caller', async () => {
    const { client, recorder } = setup();
    client.answer = () => {
      throw new StatusError(403, 'Forbidden', 'no');
    };
    await recorder.record(DB, SCALING);
    assert.equal(client.calls.length, 1);
  });
});
