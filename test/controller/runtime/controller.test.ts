import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeObject, NamespacedName, OwnerReference } from '../../../src/api/meta.ts';
import { ObjectCache } from '../../../src/controller/runtime/cache.ts';
import {
  byControllerOwner,
  byLabel,
  Controller,
  keyString,
  parseKey,
  TerminalError,
  type ReconcileResult,
} from '../../../src/controller/runtime/controller.ts';
import { WorkQueue } from '../../../src/controller/runtime/queue.ts';
import { FakeClock, settle } from './fakeclock.ts';

function database(name: string, rv = '1'): KubeObject {
  return { apiVersion: 'strongroom.dev/v1alpha1', kind: 'Database', metadata: { namespace: 'ns', name, resourceVersion: rv } };
}

function child(kind: string, name: string, rv: string, meta: { owner?: string; ownerKind?: string; labels?: Record<string, string> }): KubeObject {
  const ownerReferences: OwnerReference[] | undefined = meta.owner
    ? [{ apiVersion: 'strongroom.dev/v1alpha1', kind: meta.ownerKind ?? 'Database', name: meta.owner, uid: 'u', controller: true }]
    : undefined;
  return { apiVersion: 'v1', kind, metadata: { namespace: 'ns', name, resourceVersion: rv, ownerReferences, labels: meta.labels } };
}

/** A reconcile whose calls are recorded and whose outcome each test scripts. */
class Script {
  calls: string[] = [];
  active = new Map<string, number>();
  maxActive = 0;
  maxActivePerKey = 0;
  signals: AbortSignal[] = [];
  outcome: (key: string, call: number) => Promise<ReconcileResult | void> = async () => {};

  readonly reconcile = async (key: NamespacedName, signal: AbortSignal): Promise<ReconcileResult | void> => {
    const k = keyString(key);
    this.calls.push(k);
    this.signals.push(signal);
    this.active.set(k, (this.active.get(k) ?? 0) + 1);
    this.maxActivePerKey = Math.max(this.maxActivePerKey, this.active.get(k)!);
    this.maxActive = Math.max(this.maxActive, [...this.active.values()].reduce((a, b) => a + b, 0));
    try {
      return await this.outcome(k, this.calls.filter((c) => c === k).length);
    } finally {
      this.active.set(k, this.active.get(k)! - 1);
    }
  };
}

/** A promise the test resolves by hand. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

function setup(options: { workers?: number; resyncPeriodMs?: number } = {}) {
  const clock = new FakeClock();
  const queue = new WorkQueue({ clock });
  const script = new Script();
  const databases = new ObjectCache();
  const controller = new Controller({ name: 'test', reconcile: script.reconcile, clock, queue, ...options }).for(databases);
  return { clock, queue, script, databases, controller };
}

describe('Controller', () => {
  it('waits for every informer to sync, then reconciles each object once', async () => {
    const { script, databases, controller } = setup();
    const pods = new ObjectCache();
    controller.watches(pods, byLabel('strongroom.dev/database'));
    const running = controller.run();
    databases.replace([database('a'), database('b')]);
    await settle();
    assert.deepEqual(script.calls, [], 'pods have not synced yet');
    pods.replace([child('Pod', 'a-0', '1', { labels: { 'strongroom.dev/database': 'a' } })]);
    await settle();
    assert.deepEqual(script.calls.sort(), ['ns/a', 'ns/b']);
    await controller.stop();
    await running;
  });

  it('never reconciles a key twice at once; changes during a reconcile bring it back once afterwards', async () => {
    const { script, databases, controller } = setup({ workers: 4 });
    const first = gate();
    script.outcome = async (_key, call) => {
      if (call === 1) await first.promise;
    };
    databases.replace([database('a', '1')]);
    void controller.run();
    await settle();
    for (const rv of ['2', '3', '4']) databases.upsert(database('a', rv));
    await settle();
    assert.deepEqual(script.calls, ['ns/a']);
    first.open();
    await settle();
    assert.deepEqual(script.calls, ['ns/a', 'ns/a']);
    assert.equal(script.maxActivePerKey, 1);
    await controller.stop();
  });

  it('reconciles different keys concurrently, up to the number of workers', async () => {
    const { script, databases, controller } = setup({ workers: 2 });
    const release = gate();
    script.outcome = () => release.promise;
    databases.replace(['a', 'b', 'c', 'd'].map((name) => database(name)));
    void controller.run();
    await settle();
    assert.equal(script.maxActive, 2);
    release.open();
    await settle();
    assert.deepEqual(script.calls.sort(), ['ns/a', 'ns/b', 'ns/c', 'ns/d']);
    await controller.stop();
  });

  it('retries a failing key with growing backoff, and forgets its failures on success', async () => {
    const { clock, queue, script, databases, controller } = setup();
    script.outcome = async (_key, call) => {
      if (call <= 3) throw new Error(`failure ${call}`);
    };
    databases.replace([database('a')]);
    void controller.run();
    await settle();
    const times: number[] = [clock.now()];
    for (let call = 2; call <= 4; call++) {
      while (script.calls.length < call) {
        clock.advance(1);
        await settle(2);
      }
      times.push(clock.now());
    }
    assert.deepEqual(times.slice(1).map((t, i) => t - times[i]), [5, 10, 20]);
    assert.equal(queue.numRequeues('ns/a'), 0);
    clock.advance(10_000);
    await settle();
    assert.equal(script.calls.length, 4, 'no retry after success');
    await controller.stop();
  });

  it('does not retry a TerminalError', async () => {
    const { clock, queue, script, databases, controller } = setup();
    script.outcome = async () => {
      throw new TerminalError('spec can never work');
    };
    databases.replace([database('a')]);
    void controller.run();
    await settle();
    clock.advance(500_000); // far beyond any backoff, short of the resync
    await settle();
    assert.deepEqual(script.calls, ['ns/a']);
    assert.equal(queue.numRequeues('ns/a'), 0);
    await controller.stop();
  });

  it('reconciles again after requeueAfter', async () => {
    const { clock, script, databases, controller } = setup();
    script.outcome = async (_key, call) => (call === 1 ? { requeueAfter: 60_000 } : undefined);
    databases.replace([database('a')]);
    void controller.run();
    await settle();
    clock.advance(59_999);
    await settle();
    assert.equal(script.calls.length, 1);
    clock.advance(1);
    await settle();
    assert.equal(script.calls.length, 2);
    await controller.stop();
  });

  it("maps children to their owner's key, by controller reference or by label, old and new", async () => {
    const { script, databases, controller } = setup();
    const services = new ObjectCache();
    const pods = new ObjectCache();
    controller.watches(services, byControllerOwner('strongroom.dev', 'Database')).watches(pods, byLabel('strongroom.dev/database'));
    databases.replace([]);
    services.replace([]);
    pods.replace([]);
    void controller.run();
    await settle();
    services.upsert(child('Service', 'a-primary', '1', { owner: 'a' }));
    services.upsert(child('Service', 'other', '1', { owner: 'x', ownerKind: 'Backup' }));
    services.upsert(child('Service', 'orphan', '1', {}));
    await settle();
    assert.deepEqual(script.calls, ['ns/a']);
    pods.upsert(child('Pod', 'b-0', '1', { labels: { 'strongroom.dev/database': 'b' } }));
    await settle();
    assert.deepEqual(script.calls, ['ns/a', 'ns/b']);
    // Relabelled: both the old and the new database hear of it.
    pods.upsert(child('Pod', 'b-0', '2', { labels: { 'strongroom.dev/database': 'c' } }));
    await settle();
    assert.deepEqual(script.calls.slice(2).sort(), ['ns/b', 'ns/c']);
    services.remove(child('Service', 'a-primary', '2', { owner: 'a' }));
    await settle();
    assert.deepEqual(script.calls.slice(4), ['ns/a']);
    await controller.stop();
  });

  it('resyncs every key of its primary resource each period', async () => {
    const { clock, script, databases, controller } = setup({ resyncPeriodMs: 600_000 });
    databases.replace([database('a'), database('b')]);
    void controller.run();
    await settle();
    assert.equal(script.calls.length, 2);
    clock.advance(599_999);
    await settle();
    assert.equal(script.calls.length, 2);
    clock.advance(1);
    await settle();
    assert.deepEqual(script.calls.slice(2).sort(), ['ns/a', 'ns/b']);
    clock.advance(600_000);
    await settle();
    assert.equal(script.calls.length, 6);
    await controller.stop();
  });

  it('on stop aborts the in-flight reconcile, waits for it, and then takes nothing more', async () => {
    const { clock, script, databases, controller } = setup();
    const finish = gate();
    script.outcome = async () => {
      await finish.promise;
    };
    databases.replace([database('a')]);
    void controller.run();
    await settle();
    let stopped = false;
    const stopping = controller.stop().then(() => (stopped = true));
    await settle();
    assert.equal(script.signals[0].aborted, true);
    assert.equal(stopped, false, 'stop waits for the reconcile in flight');
    finish.open();
    await stopping;
    databases.upsert(database('b'));
    clock.advance(1_000_000);
    await settle();
    assert.deepEqual(script.calls, ['ns/a']);
    assert.equal(clock.pending(), 0, 'no resync timer left behind');
  });

  it('stops when the signal given to run aborts', async () => {
    const { databases, controller } = setup();
    databases.replace([]);
    const abort = new AbortController();
    const running = controller.run(abort.signal);
    abort.abort();
    await running;
    assert.throws(() => controller.run(), /already run/);
  });
});

describe('keys', () => {
  it('round-trips namespaced and cluster-scoped names', () => {
    for (const key of [{ namespace: 'ns', name: 'a' }, { namespace: undefined, name: 'cluster-wide' }]) {
      assert.deepEqual(parseKey(keyString(key)), key);
    }
  });
});
