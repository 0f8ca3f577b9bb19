import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HealthChecks, type HealthOptions } from '../../src/server/health.ts';

const serve = (health: HealthChecks, url: string) => {
  const [path = '', query = ''] = url.split('?');
  return health.serve(path, new URLSearchParams(query));
};

/** ping, log, a passing `storage` ready check and a failing `informer-sync` ready check, as a table fixture. */
function withFailingReadyCheck(options: HealthOptions = {}): HealthChecks {
  const health = new HealthChecks(options);
  health.addReadyCheck('storage', () => undefined);
  health.addReadyCheck('informer-sync', async () => 'informers not synced');
  return health;
}

describe('health endpoints', () => {
  // Expected bodies are kube-apiserver's, byte for byte (k8s.io/apiserver pkg/server/healthz).
  const cases = [
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
    { url: '/livez/storage', status: 404, body: '404 page not found\n', why: 'ready checks are not liveness checks' },
    { url: '/healthz/nope', status: 404, body: '404 page not found\n' },
    { url: '/metrics', status: 404, body: '404 page not found\n' },
  ];
  for (const c of cases) {
    it(`${c.url} → ${c.status}${c.why ? ` (${c.why})` : ''}`, async () => {
      assert.deepEqual(await serve(withFailingReadyCheck(), c.url), { status: c.status, body: c.body });
    });
  }

  it('fails /readyz, and only /readyz, once shutdown starts', async () => {
    const health = new HealthChecks();
    assert.deepEqual(await serve(health, '/readyz'), { status: 200, body: 'ok' });
    health.startShutdown();
    assert.deepEqual(await serve(health, '/readyz'), {
      status: 500,
      body: '[+]ping ok\n[+]log ok\n[-]shutdown failed: reason withheld\nreadyz check failed\n',
    });
    assert.equal((await serve(health, '/livez')).status, 200);
    assert.equal((await serve(health, '/healthz')).status, 200);
  });

  it('runs health checks on all three endpoints and keeps shutdown last', async () => {
    const health = new HealthChecks();
    health.addHealthCheck('etcd', () => {
      throw new Error('connection refused');
    });
    for (const endpoint of ['healthz', 'livez']) {
      assert.equal((await serve(health, `/${endpoint}`)).body, `[+]ping ok\n[+]log ok\n[-]etcd failed: reason withheld\n${endpoint} check failed\n`);
    }
    assert.equal((await serve(health, '/readyz')).body, '[+]ping ok\n[+]log ok\n[-]etcd failed: reason withheld\n[+]shutdown ok\nreadyz check failed\n');
  });

  it('sends the withheld reasons to onFailure', async () => {
    const failures: unknown[] = [];
    const health = withFailingReadyCheck({ onFailure: (f) => failures.push(f) });
    await serve(health, '/readyz');
    await serve(health, '/readyz/informer-sync');
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
    assert.equal((await serve(health, '/livez/log')).status, 200);
    clock = 119_999;
    assert.equal((await serve(health, '/livez/log')).status, 200, 'still within two minutes');
    clock = 120_000;
    assert.equal((await serve(health, '/livez/log')).status, 500, 'logging blocked');
    assert.equal(flushes, 1, 'one flush at a time');

    finishFlush();
    await Promise.resolve();
    assert.equal((await serve(health, '/livez/log')).status, 200);
    assert.equal(flushes, 2);

    finishFlush(new Error('EPIPE'));
    await Promise.resolve();
    assert.equal((await serve(health, '/livez/log')).status, 500, 'the last flush failed');
    finishFlush();
    await Promise.resolve();
    assert.equal((await serve(health, '/livez/log')).status, 200);
  });
});
