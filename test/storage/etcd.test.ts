import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Etcd3 } from 'etcd3';
import { WatchCache } from '../../src/storage/cache.ts';
import { EtcdStorage, type EtcdStorageOptions } from '../../src/storage/etcd.ts';
import { StorageError } from '../../src/storage/interface.ts';
import { startEtcd } from '../support/etcd.ts';
import { collect, database, key, PREFIX, rv } from './helpers.ts';
import { rejectsWith, storageSuite, WAITS } from './suite.ts';

const etcd = await startEtcd();
after(() => etcd.stop());

let stores = 0;
/** Each store gets a key prefix of its own, so tests sharing the etcd do not see each other's keys. */
const settings = (prefix = `/test-${stores++}/`): EtcdStorageOptions => ({ servers: [etcd.url], prefix, connectTimeoutMs: 10_000 });

storageSuite('EtcdStorage', {
  open: (options) => EtcdStorage.connect({ ...settings(), ...options }),
  shared: () => {
    const shared = settings();
    return () => EtcdStorage.connect(shared);
  },
});

/** Two replicas of one store: two clients of the same etcd under the same prefix. */
async function replicas(): Promise<[EtcdStorage, EtcdStorage]> {
  const shared = settings();
  return Promise.all([EtcdStorage.connect(shared), EtcdStorage.connect(shared)]);
}

/** Polls `check` every few milliseconds until it holds; fails after five seconds. */
async function eventually(what: string, check: () => boolean | Promise<boolean>): Promise<void> {
  for (let polls = 0; !(await check()); polls++) {
    if (polls === 500) throw new Error(`still not true after 5 s: ${what}`);
    await sleep(10);
  }
}

describe('EtcdStorage as the store of several replicas', () => {
  it('loses no update when replicas race read-modify-write cycles on one key', WAITS, async () => {
    const [a, b] = await replicas();
    await a.create(key('a', 'counter'), database('a', 'counter', 0));
    let conflicts = 0;
    const increment = async (s: EtcdStorage, times: number) => {
      for (let done = 0; done < times; ) {
        const current = (await s.get(key('a', 'counter')))!;
        try {
          await s.update(key('a', 'counter'), { ...current, spec: { ...current.spec, replicas: current.spec.replicas + 1 } }, rv(current));
          done++;
        } catch (error) {
          if (!(error instanceof StorageError && error.code === 'Conflict')) throw error;
          conflicts++;
        }
      }
    };
    await Promise.all([increment(a, 15), increment(b, 15)]);
    assert.equal((await b.get(key('a', 'counter')))?.spec.replicas, 30, `every increment counted (${conflicts} conflicts retried)`);
    await a.close();
    await b.close();
  });

  it("feeds each replica's watch cache with the other's writes", WAITS, async () => {
    const [a, b] = await replicas();
    const [cacheA, cacheB] = [new WatchCache(a), new WatchCache(b)];
    await Promise.all([cacheA.ready, cacheB.ready]);
    const seenByA = collect(cacheA, PREFIX, cacheA.currentRevision());
    const created = await cacheB.create(key('a', 'x'), database('a', 'x', 1));
    const [added] = await seenByA.until(1);
    assert.equal(added.type, 'ADDED');
    assert.deepEqual(added.object, created);
    assert.deepEqual(await cacheA.get(key('a', 'x')), created, 'the cache serves it once its event is in');

    const seenByB = collect(cacheB, PREFIX, rv(created));
    const updated = await cacheA.update(key('a', 'x'), database('a', 'x', 2), rv(created));
    await cacheA.delete(key('a', 'x'), rv(updated));
    assert.deepEqual(
      (await seenByB.until(2)).map((e) => `${e.type} ${e.revision - rv(created)} ${e.prevObject?.spec.replicas}`),
      ['MODIFIED 1 1', 'DELETED 2 2'],
    );
    await eventually('B\'s cache is empty', async () => (await cacheB.list(PREFIX)).items.length === 0);
    assert.equal(cacheB.currentRevision(), rv(updated) + 1);
    await Promise.all([cacheA.close(), cacheB.close(), a.close(), b.close()]);
  });

  it("learns another replica's compaction, and answers Expired for history before it", WAITS, async () => {
    const [a, b] = await replicas();
    const base = a.currentRevision();
    await a.create(key('a', 'x'), database('a', 'x', 1));
    const updated = await a.update(key('a', 'x'), database('a', 'x', 2), base + 1);
    await b.compact(rv(updated));
    await eventually('A knows of the compaction', () => a.compactedRevision() === rv(updated));
    assert.throws(() => a.watch(PREFIX, base, () => {}), (e: unknown) => e instanceof StorageError && e.code === 'Expired');
    await rejectsWith(a.list(PREFIX, { revision: base + 1 }), 'Expired');
    await a.close();
    await b.close();
  });

  it("takes turns compacting with another replica, as kube-apiserver's compactors do", async () => {
    const [a, b] = await replicas();
    const base = a.currentRevision();
    for (let i = 0; i < 4; i++) await a.create(key('a', `o${i}`), database('a', `o${i}`));
    await a.compact(base + 1); // a record exists, whatever ran before: neither replica's clock (0) is current
    const turns: string[] = [];
    const turn = async (name: string, s: EtcdStorage, revision: number) => {
      turns.push(`${name} ${(await s.compactInTurn(revision)) ? 'compacts' : 'waits'}`);
    };
    await turn('a', a, base + 2); // learns the clock
    await turn('b', b, base + 2); // learns the clock
    await turn('a', a, base + 2); // its clock is current
    await turn('b', b, base + 3); // one behind: learns
    await turn('b', b, base + 3); // a compacts no more: b's turn
    assert.deepEqual(turns, ['a waits', 'b waits', 'a compacts', 'b waits', 'b compacts']);
    assert.equal(b.compactedRevision(), base + 3);
    await rejectsWith(a.list(PREFIX, { revision: base + 2 }), 'Expired');
    await a.close();
    await b.close();
  });

  it('fails a watch with Expired when etcd cancels it for history compacted without a record', WAITS, async () => {
    const s = await EtcdStorage.connect(settings());
    const base = s.currentRevision();
    await s.create(key('a', 'x'), database('a', 'x'));
    await s.create(key('a', 'y'), database('a', 'y'));
    // Compacted behind the replica's back (no compact_rev_key record), as a lagging watch finds its history gone.
    const raw = new Etcd3({ hosts: etcd.url });
    await raw.kv.compact({ revision: base + 2 });
    raw.close();
    const failure = await new Promise<StorageError>((resolve) => s.watch(PREFIX, base, () => {}, resolve));
    assert.equal(failure.code, 'Expired');
    assert.match(failure.message, /compacted/);
    await s.close();
  });

  it('resumes its watches where they were when etcd restarts', { timeout: 30_000 }, async () => {
    const s = await EtcdStorage.connect(settings());
    const base = s.currentRevision();
    const failures: StorageError[] = [];
    const watched = collect(s, PREFIX, base);
    const watcher = s.watch(PREFIX, base, () => {}, (error) => failures.push(error));
    await s.create(key('a', 'before'), database('a', 'before'));
    await watched.until(1);
    await etcd.restart();
    // The first writes may meet a connection not yet re-established: Unavailable, which a client retries.
    let written = false;
    while (!written) {
      try {
        await s.create(key('a', 'after'), database('a', 'after'));
        written = true;
      } catch (error) {
        if (!(error instanceof StorageError && error.code === 'Unavailable')) throw error;
        await sleep(100);
      }
    }
    assert.deepEqual((await watched.until(2)).map((e) => e.key), [key('a', 'before'), key('a', 'after')]);
    assert.deepEqual(failures, []);
    watcher.stop();
    await s.close();
  });

  it('lists in pages, all at one revision', async () => {
    const s = await EtcdStorage.connect({ ...settings(), listPageSize: 2 });
    for (let i = 0; i < 5; i++) await s.create(key('a', `o${i}`), database('a', `o${i}`));
    const newest = await s.list(PREFIX);
    await s.create(key('a', 'o5'), database('a', 'o5'));
    const older = await s.list(PREFIX, { revision: newest.revision });
    assert.deepEqual(older, newest);
    assert.deepEqual(newest.keys, [0, 1, 2, 3, 4].map((i) => key('a', `o${i}`)));
    assert.equal((await s.list(PREFIX)).items.length, 6);
    await s.close();
  });
});

describe('EtcdStorage over TLS with a client certificate', () => {
  it('connects with the CA, certificate and key files, and not without the certificate', async () => {
    const secure = await startEtcd({ tls: true });
    try {
      const tls = secure.tls!;
      const s = await EtcdStorage.connect({ servers: [secure.url], caFile: tls.caFile, certFile: tls.certFile, keyFile: tls.keyFile });
      const created = await s.create(key('a', 'x'), database('a', 'x'));
      assert.deepEqual(await s.get(key('a', 'x')), created);
      await s.close();
      await rejectsWith(EtcdStorage.connect({ servers: [secure.url], caFile: tls.caFile, connectTimeoutMs: 500 }), 'Unavailable');
    } finally {
      await secure.stop();
    }
  });

  const refused: [string, Partial<EtcdStorageOptions>, RegExp][] = [
    ['a server that is no URL', { servers: ['127.0.0.1:2379'] }, /http:\/\/ or https:\/\//],
    ['http and https servers mixed', { servers: ['http://127.0.0.1:1', 'https://127.0.0.1:2'] }, /all http/],
    ['a certificate without its key', { servers: ['https://127.0.0.1:1'], caFile: 'ca', certFile: 'c' }, /both/],
    ['TLS files for an http server', { servers: ['http://127.0.0.1:1'], caFile: 'ca' }, /https/],
    ['a client certificate without a CA', { servers: ['https://127.0.0.1:1'], certFile: 'c', keyFile: 'k' }, /CA file/],
  ];
  for (const [name, options, message] of refused) {
    it(`refuses ${name}`, async () => {
      await assert.rejects(EtcdStorage.connect({ servers: [], ...options }), message);
    });
  }
});
