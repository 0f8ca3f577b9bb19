import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_TIMER_MS } from '../../../src/controller/runtime/clock.ts';
import { WorkQueue } from '../../../src/controller/runtime/queue.ts';
import { FakeClock, settle } from './fakeclock.ts';

/** Whether `promise` has settled after pending callbacks ran, and with what. */
async function peek<T>(promise: Promise<T>): Promise<{ settled: boolean; value?: T }> {
  let state: { settled: boolean; value?: T } = { settled: false };
  void promise.then((value) => (state = { settled: true, value }));
  await settle();
  return state;
}

function newQueue(): { queue: WorkQueue; clock: FakeClock } {
  const clock = new FakeClock();
  return { queue: new WorkQueue({ clock }), clock };
}

describe('WorkQueue', () => {
  it('hands keys out in the order added, each once however often it was added', async () => {
    const { queue } = newQueue();
    for (const key of ['a', 'b', 'a', 'c', 'b']) queue.add(key);
    assert.equal(queue.len(), 3);
    assert.deepEqual([await queue.get(), await queue.get(), await queue.get()], ['a', 'b', 'c']);
    assert.equal(queue.len(), 0);
  });

  it('makes get wait for the next add', async () => {
    const { queue } = newQueue();
    const next = queue.get();
    assert.equal((await peek(next)).settled, false);
    queue.add('a');
    assert.deepEqual(await peek(next), { settled: true, value: 'a' });
  });

  it('never hands out a key being processed; one added meanwhile comes back once after done', async () => {
    const { queue } = newQueue();
    queue.add('a');
    assert.equal(await queue.get(), 'a');
    queue.add('a');
    queue.add('a');
    const second = queue.get();
    assert.equal((await peek(second)).settled, false, 'a is still being processed');
    assert.equal(queue.len(), 0);
    queue.done('a');
    assert.deepEqual(await peek(second), { settled: true, value: 'a' });
    queue.done('a');
    assert.equal(queue.len(), 0, 'the two adds while processing made one requeue');
  });

  it('forgets a processed key that was not added again', async () => {
    const { queue } = newQueue();
    queue.add('a');
    await queue.get();
    queue.done('a');
    assert.equal(queue.len(), 0);
    queue.add('a');
    assert.equal(queue.len(), 1);
  });

  it('adds a key after its delay; the earlier of two delays wins', async () => {
    const { queue, clock } = newQueue();
    queue.addAfter('a', 100);
    queue.addAfter('a', 500);
    queue.addAfter('b', 300);
    queue.addAfter('b', 200);
    clock.advance(99);
    assert.equal(queue.len(), 0);
    clock.advance(1);
    assert.equal(await queue.get(), 'a');
    clock.advance(100);
    assert.equal(await queue.get(), 'b');
    clock.advance(1000);
    assert.equal(queue.len(), 0, 'the later requests were dropped');
    assert.equal(clock.pending(), 0);
  });

  it('adds at once for a delay of zero or less', () => {
    const { queue } = newQueue();
    queue.addAfter('a', 0);
    queue.addAfter('b', -5);
    assert.equal(queue.len(), 2);
  });

  it('holds a key back longer than one timer can wait', () => {
    const { queue, clock } = newQueue();
    const month = 30 * 24 * 3600_000;
    assert.ok(month > MAX_TIMER_MS);
    queue.addAfter('a', month);
    clock.advance(MAX_TIMER_MS);
    assert.equal(queue.len(), 0, 'the first timer only re-arms');
    clock.advance(month - MAX_TIMER_MS);
    assert.equal(queue.len(), 1);
  });

  it('backs a failing key off exponentially, counting requeues, until forget', async () => {
    const { queue, clock } = newQueue();
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      queue.addRateLimited('a');
      const start = clock.now();
      while (queue.len() === 0) clock.advance(1);
      delays.push(clock.now() - start);
      assert.equal(await queue.get(), 'a');
      queue.done('a');
    }
    assert.deepEqual(delays, [5, 10, 20, 40]);
    assert.equal(queue.numRequeues('a'), 4);
    queue.forget('a');
    assert.equal(queue.numRequeues('a'), 0);
    queue.addRateLimited('a');
    clock.advance(5);
    assert.equal(queue.len(), 1);
  });

  it('on shutDown answers get with undefined, drops what is queued and waiting, and refuses new keys', async () => {
    const { queue, clock } = newQueue();
    const waiting = queue.get();
    queue.shutDown();
    assert.deepEqual(await peek(waiting), { settled: true, value: undefined });

    const other = newQueue();
    other.queue.add('a');
    other.queue.addAfter('b', 100);
    other.queue.shutDown();
    assert.equal(other.clock.pending(), 0);
    assert.equal(await other.queue.get(), undefined);
    other.queue.add('c');
    other.queue.addRateLimited('d');
    assert.equal(other.queue.len(), 0);
    assert.equal(other.queue.isShuttingDown(), true);
    assert.equal(clock.pending(), 0);
  });
});
