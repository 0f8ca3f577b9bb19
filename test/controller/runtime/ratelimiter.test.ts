import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BucketRateLimiter,
  defaultControllerRateLimiter,
  ItemExponentialFailureRateLimiter,
  MaxOfRateLimiter,
} from '../../../src/controller/runtime/ratelimiter.ts';
import { FakeClock } from './fakeclock.ts';

describe('ItemExponentialFailureRateLimiter', () => {
  it('doubles per failure of a key from the base delay, up to the cap', () => {
    const limiter = new ItemExponentialFailureRateLimiter(5, 1000_000);
    const delays = Array.from({ length: 20 }, () => limiter.when('a'));
    assert.deepEqual(delays.slice(0, 5), [5, 10, 20, 40, 80]);
    // 5 ms × 2^18 = 1310.72 s is the first above 1000 s.
    assert.equal(delays[17], 655_360);
    assert.equal(delays[18], 1000_000);
    assert.equal(delays[19], 1000_000);
    assert.equal(limiter.numRequeues('a'), 20);
  });

  it('counts keys separately and starts over after forget', () => {
    const limiter = new ItemExponentialFailureRateLimiter(5, 1000_000);
    limiter.when('a');
    limiter.when('a');
    assert.equal(limiter.when('b'), 5);
    assert.equal(limiter.numRequeues('a'), 2);
    limiter.forget('a');
    assert.equal(limiter.numRequeues('a'), 0);
    assert.equal(limiter.when('a'), 5);
  });

  it('stays at the cap however many failures (no overflow to Infinity or NaN)', () => {
    const limiter = new ItemExponentialFailureRateLimiter(5, 1000_000);
    let last = 0;
    for (let i = 0; i < 2000; i++) last = limiter.when('a');
    assert.equal(last, 1000_000);
  });
});

describe('BucketRateLimiter', () => {
  it('lets the burst through at once, then spaces requeues at 1/qps', () => {
    const clock = new FakeClock();
    const limiter = new BucketRateLimiter(10, 100, clock);
    const delays = Array.from({ length: 103 }, () => limiter.when());
    assert.deepEqual(delays.slice(0, 100), Array(100).fill(0));
    assert.deepEqual(delays.slice(100).map(Math.round), [100, 200, 300]);
  });

  it('refills at qps as time passes, never above the burst', () => {
    const clock = new FakeClock();
    const limiter = new BucketRateLimiter(10, 2, clock);
    assert.deepEqual([limiter.when(), limiter.when(), Math.round(limiter.when())], [0, 0, 100]);
    clock.advance(100); // pays the debt
    assert.equal(Math.round(limiter.when()), 100);
    clock.advance(60_000);
    assert.deepEqual([limiter.when(), limiter.when(), Math.round(limiter.when())], [0, 0, 100]);
  });
});

describe('MaxOfRateLimiter and the controller default', () => {
  it('waits the longer of the per-key backoff and the overall bucket', () => {
    const clock = new FakeClock();
    const limiter = new MaxOfRateLimiter(new ItemExponentialFailureRateLimiter(5, 1000_000), new BucketRateLimiter(10, 1, clock));
    assert.equal(limiter.when('a'), 5); // bucket has a token: the key's 5 ms
    assert.equal(Math.round(limiter.when('b')), 100); // bucket empty: its 100 ms beats b's 5 ms
    assert.equal(limiter.numRequeues('a'), 1);
    limiter.forget('a');
    assert.equal(limiter.numRequeues('a'), 0);
  });

  it('defaults to 5 ms doubling per key and 10 qps with a burst of 100', () => {
    const clock = new FakeClock();
    const limiter = defaultControllerRateLimiter(clock);
    assert.deepEqual([limiter.when('a'), limiter.when('a'), limiter.when('a')], [5, 10, 20]);
    for (let i = 0; i < 97; i++) limiter.when(`other-${i}`);
    // 100 tokens spent; the 101st requeue waits for the bucket, not for its key's 5 ms.
    assert.equal(Math.round(limiter.when('fresh')), 100);
  });
});
