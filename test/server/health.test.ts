import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HealthChecks, type HealthOptions } from '../../src/server/health.ts';

const serve = (health: HealthChecks, url: string) => {
  const [path = '', query = ''] = url.split('?');
  return health.serve(path, new URLSearchParams(query));
};
/** The answer of a path that must be a health path. */
const answer = async (health: HealthChecks, url: string) => (await serve(health, url))!;

/** ping, log, a passing `storage` ready check and a failing `informer-sync` ready check, as a table fixture. */
function withFailingReadyCheck(options: HealthOptions = {}): HealthChecks {
  const health = new HealthChecks(options);
  health.addReadyCheck('storage', () => undefined);
  health.addReadyCheck('informer-sync', async () => 'informers not synced');
  return health;
}

describe('health endpoints', () => {
  // Expected bodies are kube-apiserver's, byte for byte (k8s.io/apiserver pkg/server/healthz).
  const cases: { url: string; status: number; body: string; why?: string }[] = [
    { url: '/healthz', status: 200, body: 'ok' },
    { url: '/livez', status: 200, body: 'ok' },
    { url: '/healthz?verbose', status: 200, body: '[+]ping ok\n[+]log ok\nhealthz check passed\n' },
    { url: '/livez?verbose=1', status: 200, body: '[+]ping ok\n[+]log ok\nlivez check passed\n' },
    {
      url: '/readyz',
      status: 500,
      body: '[+]ping ok\n[+]log ok\n[+]storage ok\n[-]informer-sync failed: reason withheld\n[+]shutdown ok\nreadyz check failed\n',
    },
    { url: '/readyz?exclude=informer-sync', status: 200, body: 'ok' },
    {
      url: '/readyz?exclude=informer-sync&verbose',
      status: 200,
      body: '[+]ping ok\n[+]log ok\n[+]storage ok\n[+]informer-sync excluded: ok\n[+]shutdown ok\nreadyz check passed\n',
    },
    {
      url: '/readyz?exclude=informer-sync&exclude=zz&exclude=aa&verbose',
      status: 200,
      body: '[+]ping ok\n[+]log ok\n[+]storage ok\n[+]informer-sync excluded: ok\n[+]shutdown ok\nwarn: some health checks cannot be excluded: no matches for "aa","zz"\nreadyz check passed\n',
    },
    { url: '/readyz/ping', status: 200, body: 'ok' },
    { url: '/readyz/storage', status: 200, body: 'ok' },
    { url: '/readyz/informer-sync', status: 500, body: 'internal server error: reason withheld\n' },
  ];
  for (const c of cases) {
    it(`${c.url} → ${c.status}${c.why ? ` (${c.why})` : ''}`, async () => {
      assert.deepEqual(await answer(withFailingReadyCheck(), c.url), { status: c.status, body: c.body });
    });
  }
  // Left to the API's 404 Status, as kube-apiserver's NotFound handler answers them.
  for (const [url, why] of [['/livez/storage', 'ready checks are not liveness checks'], ['/healthz/nope', ''], ['/healthz/..', ''], ['/metrics', '']]) {
    it(`${url} is not a health path${why ? ` (${why})` : ''}`, async () => {
      assert.equal(await serve(withFailingReadyCheck(), url!), undefined);
    });
  }

  it('fails /readyz, and only /readyz, once shutdown starts', async () => {
    const health = new HealthChecks();
    assert.deepEqual(await answer(health, '/readyz'), { status: 200, body: 'ok' });
    health.startShutdown();
    assert.deepEqual(await answer(health, '/readyz'), {
      status: 500,
      body: '[+]ping ok\n[+]log ok\n[-]shutdown failed: reason withheld\nreadyz check failed\n',
    });
    assert.equal((await answer(health, '/livez')).status, 200);
    assert.equal((await answer(health, '/healthz')).status, 200);
  });

  it('runs health checks on all three endpoints and keeps shutdown last', async () => {
    const health = new HealthChecks();
    health.addHealthCheck('etcd', () => {
      throw new Error('connection refused');
    });
    for (const endpoint of ['healthz', 'livez']) {
      assert.equal((await answer(health, `/${endpoint}`)).body, `[+]ping ok\n[+]log ok\n[-]etcd failed: reason withheld\n${endpoint} check failed\n`);
    }
    assert.equal((await answer(health, '/readyz')).body, '[+]ping ok\n[+]log ok\n[-]etcd failed: reason withheld\n[+]shutdown ok\nreadyz check failed\n');
  });

  it('sends the withheld reasons to onFailure', async () => {
    const failures: unknown[] = [];
    const health = withFailingReadyCheck({ onFailure: (f) => failures.push(f) });
    await answer(health, '/readyz');
    await answer(health, '/readyz/informer-sync');
    assert.deepEqual(failures, [
      { endpoint: 'readyz', check: 'informer-sync', reason: 'informers not synced' },
      { endpoint: 'readyz', check: 'informer-sync', reason: 'informers not synced' },
    ]);
  });

  it('refuses a second check with the same name', () => {
    const health = new HealthChecks();
    assert.throws(() => health.addReadyCheck('ping', () => undefined), /already registered/);
    assert.throws(() => health.addReadyCheck('shutdown', () => undefined), /already registered/);
  });

  it('fails log while a flush has been pending for two minutes, and when a flush failed', async () => {
    let clock = 0;
    let finishFlush: (error?: Error) => void = () => {};
    let flushes = 0;
    const health = new HealthChecks({
      now: () => clock,
      flushLog: () => {
        flushes++;
        return new Promise<void>((resolve, reject) => (finishFlush = (error) => (error ? reject(error) : resolve())));
      },
    });
    assert.equal((await answer(health, '/livez/log')).status, 200);
    clock = 119_999;
    assert.equal((await answer(health, '/livez/log')).status, 200, 'still within two minutes');
    clock = 120_000;
    assert.equal((await answer(health, '/livez/log')).status, 500, 'logging blocked');
    assert.equal(flushes, 1, 'one flush at a time');

    finishFlush();
    await Promise.resolve();
    assert.equal((await answer(health, '/livez/log')).status, 200);
    assert.equal(flushes, 2);

    finishFlush(new Error('EPIPE'));
    await Promise.resolve();
    assert.equal((await answer(health, '/livez/log')).status, 500, 'the last flush failed');
    finishFlush();
    await Promise.resolve();
    assert.equal((await answer(health, '/livez/log')).status, 200);
  });
});
