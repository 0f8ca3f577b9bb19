// An acknowledged write survives kill -9: a child writes in a loop and prints each write once it resolves; the test
// kills it mid-stream and checks that the reopened file holds every write the child printed.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { it } from 'node:test';
import { SqliteStorage } from '../../src/storage/sqlite.ts';

const ACKNOWLEDGED_BEFORE_KILL = 400;

// Several writes per turn, so the kill also lands inside group commits; the counter checks updates, not only creates.
const writer = `
import { SqliteStorage } from ${JSON.stringify(new URL('../../src/storage/sqlite.ts', import.meta.url).href)};
const store = SqliteStorage.open(process.env.CRASH_DB);
const object = (name, n) => ({ apiVersion: 'v1', kind: 'Thing', metadata: { name }, spec: { n, payload: 'p'.repeat(2000) } });
let counter = await store.create('/crash/counter', object('counter', 0));
for (let i = 0; ; i++) {
  const creates = [0, 1, 2].map((j) =>
    store.create('/crash/things/' + i + '-' + j, object(i + '-' + j, i)).then(() => process.stdout.write('created ' + i + '-' + j + '\\n')),
  );
  const update = store.update('/crash/counter', object('counter', i + 1), Number(counter.metadata.resourceVersion)).then((next) => {
    counter = next;
    process.stdout.write('counter ' + (i + 1) + '\\n');
  });
  await Promise.all([...creates, update]);
}
`;

it('keeps every acknowledged write when the writing process is killed with SIGKILL', { timeout: 20_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'strongroom-crash-'));
  const file = join(dir, 'store.db');
  try {
    const child = spawn(process.execPath, ['--input-type=module', '--eval', writer], {
      env: { ...process.env, CRASH_DB: file },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    let acknowledged = 0;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      output += chunk;
      acknowledged += chunk.split('\n').length - 1;
      if (acknowledged >= ACKNOWLEDGED_BEFORE_KILL) child.kill('SIGKILL');
    });
    const [, signal] = (await new Promise((resolve) => child.on('close', (...args) => resolve(args)))) as [number | null, string | null];
    assert.equal(signal, 'SIGKILL', 'the writer was killed mid-stream, not stopped by an error');

    const lines = output.split('\n').slice(0, -1); // a last line without its newline was never acknowledged
    const created = lines.filter((line) => line.startsWith('created ')).map((line) => line.slice('created '.length));
    const counts = lines.filter((line) => line.startsWith('counter ')).map((line) => Number(line.slice('counter '.length)));
    assert.ok(created.length >= 100 && counts.length >= 30, `too few writes acknowledged: ${lines.length}`);

    const check = new DatabaseSync(file);
    assert.equal(check.prepare('PRAGMA integrity_check').get()?.integrity_check, 'ok');
    check.close();
    const store = SqliteStorage.open(file);
    try {
      const stored = new Map((await store.list('/crash/things/')).items.map((obj) => [obj.metadata.name, obj]));
      const missing = created.filter((name) => stored.get(name)?.spec.payload.length !== 2000);
      assert.deepEqual(missing, [], 'acknowledged creates lost or damaged');
      const counter = await store.get('/crash/counter');
      assert.ok((counter?.spec.n ?? -1) >= Math.max(...counts), `counter ${counter?.spec.n} is behind the acknowledged ${Math.max(...counts)}`);
    } finally {
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
