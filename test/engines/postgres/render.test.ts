import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { applicationName } from '../../../src/engines/postgres/render.ts';
import { memberRole } from '../../../src/engines/replicated.ts';
import { configData, container, database, decoded, envValue, find, podSpec, render } from '../fixtures.ts';
import { runScript } from '../scripts.ts';

const conf = (state: ReturnType<typeof render>) => configData(state, 'orders-config')['postgresql.conf'];

describe('postgres topology', () => {
  for (const replicas of [1, 3]) {
    it(`${replicas} member(s): one StatefulSet started in order, primary first`, () => {
      const sts = find(render(database('postgres', { replicas })), 'StatefulSet', 'orders');
      assert.equal(sts.spec.replicas, replicas);
      assert.equal(sts.spec.podManagementPolicy, 'OrderedReady');
      assert.deepEqual(sts.spec.updateStrategy, { type: 'RollingUpdate' });
    });
  }

  it('sends writes to ordinal 0 and reads to the members labelled replica', () => {
    const state = render(database('postgres', { replicas: 3 }));
    const selector = { 'app.kubernetes.io/component': 'database', 'app.kubernetes.io/name': 'postgres', 'strongroom.dev/database': 'orders' };
    assert.deepEqual(find(state, 'Service', 'orders').spec.selector, { ...selector, 'statefulset.kubernetes.io/pod-name': 'orders-0' });
    assert.deepEqual(find(state, 'Service', 'orders-ro').spec.selector, { ...selector, 'strongroom.dev/role': 'replica' });
    assert.deepEqual(find(state, 'Service', 'orders').spec.ports, [{ name: 'postgres', port: 5432, protocol: 'TCP', targetPort: 'postgres' }]);
  });

  it('gives the controller the role of each member', () => {
    assert.deepEqual(['orders-0', 'orders-1', 'orders-10'].map(memberRole), ['primary', 'replica', 'replica']);
  });

  it('streams replicas from ordinal 0 through its stable DNS name', () => {
    const text = conf(render(database('postgres', { replicas: 3 })));
    assert.match(text, /^primary_conninfo = 'host=orders-0\.orders-headless\.shop\.svc\.cluster\.local port=5432 user=replicator passfile=\/var\/lib\/postgresql\/data\/\.pgpass'$/m);
    const bootstrap = container(render(database('postgres', { replicas: 3 })), 'bootstrap');
    assert.equal(envValue(bootstrap, 'PRIMARY_HOST'), 'orders-0.orders-headless.shop.svc.cluster.local');
  });
});

describe('postgres configuration', () => {
  it('writes defaults, then parameters in key order, then the managed settings that win', () => {
    const text = conf(render(database('postgres', { resources: { limits: { memory: '1Gi' } }, parameters: { work_mem: '8MB', max_connections: '50' } })));
    const lines = text.split('\n').filter((l) => !l.startsWith('#') && l !== '');
    assert.deepEqual(lines.slice(0, 3), ["shared_buffers = '256MB'", "max_connections = '50'", "work_mem = '8MB'"]);
    assert.deepEqual(
      lines.slice(3).map((l) => l.split(' = ')[0]),
      ['listen_addresses', 'port', 'unix_socket_directories', 'password_encryption', 'primary_conninfo'],
    );
  });

  it('leaves shared_buffers at the server default without a memory limit', () => {
    assert.doesNotMatch(conf(render(database('postgres'))), /shared_buffers/);
  });

  it('quotes values so none can end its line', () => {
    const text = conf(render(database('postgres', { parameters: { search_path: "it's\\here\nport = 1" } })));
    assert.match(text, /^search_path = 'it''s\\\\here\\nport = 1'$/m);
    assert.equal(text.match(/^port = /gm)?.length, 1);
  });

  it('authenticates replication and clients with SCRAM, local superuser by peer', () => {
    const hba = configData(render(database('postgres')), 'orders-config')['pg_hba.conf'];
    assert.match(hba, /^local\s+all\s+all\s+peer$/m);
    assert.match(hba, /^host\s+replication\s+replicator\s+all\s+scram-sha-256$/m);
    assert.match(hba, /^host\s+all\s+all\s+all\s+scram-sha-256$/m);
  });

  it('states its own command, the server by name, with the configuration from the ConfigMap', () => {
    const state = render(database('postgres'));
    const postgres = container(state, 'postgres');
    assert.equal(postgres.args, undefined);
    assert.deepEqual(postgres.command, [
      'postgres',
      '-c',
      'config_file=/etc/strongroom/postgresql.conf',
      '-c',
      'hba_file=/etc/strongroom/pg_hba.conf',
      '-c',
      'cluster_name=$(POD_NAME)',
    ]);
    assert.equal(envValue(postgres, 'PGDATA'), '/var/lib/postgresql/data/pgdata');
    const volumes = podSpec(state).volumes;
    assert.deepEqual(volumes.find((v: any) => v.name === 'run'), { name: 'run', emptyDir: {} }, 'the socket directory exists in any image');
    assert.deepEqual(
      postgres.volumeMounts.map((m: any) => m.mountPath),
      ['/var/lib/postgresql/data', '/var/run/postgresql', '/etc/strongroom'],
    );
    const bootstrap = container(state, 'bootstrap');
    assert.deepEqual(bootstrap.command.slice(0, 2), ['sh', '-c']);
    assert.deepEqual(bootstrap.volumeMounts.map((m: any) => m.mountPath), ['/var/lib/postgresql/data', '/var/run/postgresql']);
    assert.equal(JSON.stringify(state).includes('docker-entrypoint'), false, 'nothing relies on the image entrypoint');
  });
});

describe('postgres probes and container', () => {
  it('asks pg_isready on loopback for startup, readiness and liveness', () => {
    const postgres = container(render(database('postgres')), 'postgres');
    const command = ['pg_isready', '--quiet', '--host=127.0.0.1', '--port=5432'];
    for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) assert.deepEqual(postgres[probe].exec.command, command);
    assert.ok(postgres.startupProbe.failureThreshold * postgres.startupProbe.periodSeconds >= 600, 'room for crash recovery');
    assert.deepEqual(postgres.ports, [{ name: 'postgres', containerPort: 5432, protocol: 'TCP' }]);
  });

  it('shuts down fast when the pod stops', () => {
    const postgres = container(render(database('postgres')), 'postgres');
    assert.deepEqual(postgres.lifecycle.preStop.exec.command, ['pg_ctl', 'stop', '--pgdata=/var/lib/postgresql/data/pgdata', '--mode=fast', '--wait']);
    assert.ok(podSpec(render(database('postgres'))).terminationGracePeriodSeconds >= 30);
  });

  it('passes passwords from the credentials Secret, never as values, and only to the bootstrap', () => {
    const state = render(database('postgres'));
    const bootstrap = container(state, 'bootstrap');
    for (const [name, key] of [['SUPERUSER_PASSWORD', 'superuser-password'], ['REPLICATION_PASSWORD', 'replication-password'], ['APP_PASSWORD', 'password']]) {
      assert.deepEqual(envValue(bootstrap, name!), { secretKeyRef: { name: 'orders-credentials', key } });
    }
    assert.deepEqual(container(state, 'postgres').env.map((e: any) => e.name), ['POD_NAME', 'PGDATA', 'PGPASSFILE']);
  });
});

describe('postgres application role', () => {
  const table: [string, string][] = [
    ['orders', 'orders'],
    ['order-db-eu', 'order_db_eu'],
  ];
  for (const [name, role] of table) {
    it(`Database ${name} gets role and database ${role}`, () => {
      const state = render(database('postgres', {}, name));
      assert.equal(applicationName(database('postgres', {}, name)), role);
      const connection = decoded(find(state, 'Secret', `${name}-connection`));
      assert.equal(connection.username, role);
      assert.equal(connection.database, role);
      assert.equal(envValue(container(state, 'bootstrap', name), 'APP_DB'), role);
      assert.equal(envValue(container(state, 'bootstrap', name), 'APP_USER'), role);
    });
  }

  it('has a bootstrap script a POSIX shell can parse', () => {
    const script = container(render(database('postgres')), 'bootstrap').command[2];
    assert.equal(spawnSync('sh', ['-n', '-c', script]).status, 0);
  });
});

describe('postgres bootstrap script of a replica', () => {
  const fakes = {
    'pg_isready': 'exit 0',
    // Writes a data directory where --pgdata says, as pg_basebackup does.
    'pg_basebackup': 'for a in "$@"; do case "$a" in --pgdata=*) mkdir -p "${a#--pgdata=}"; echo 17 > "${a#--pgdata=}/PG_VERSION";; esac; done',
    'sleep': 'exit 0',
  };

  function bootstrap(pod: string, prepare: (pgdata: string) => void = () => {}) {
    const script = container(render(database('postgres', { replicas: 3 })), 'bootstrap').command[2];
    const volume = mkdtempSync(join(tmpdir(), 'strongroom-pgdata-'));
    try {
      const pgdata = join(volume, 'pgdata');
      prepare(pgdata);
      const env = { POD_NAME: pod, PGDATA: pgdata, PGPASSFILE: join(volume, '.pgpass'), PRIMARY_HOST: 'orders-0.orders-headless', REPLICATION_PASSWORD: 'repl' };
      const run = runScript('sh', script, env, fakes);
      const passfile = join(volume, '.pgpass');
      return {
        run,
        passfile: readFileSync(passfile, 'utf8'),
        passfileMode: statSync(passfile).mode & 0o777,
        standby: existsSync(join(pgdata, 'standby.signal')),
        initialised: existsSync(join(pgdata, 'PG_VERSION')),
        partial: existsSync(`${pgdata}.partial`),
      };
    } finally {
      rmSync(volume, { recursive: true, force: true });
    }
  }

  it('copies the primary into an empty replica and marks it a standby', () => {
    const result = bootstrap('orders-2');
    assert.equal(result.run.status, 0, result.run.stderr);
    assert.ok(result.initialised && result.standby && !result.partial);
    assert.deepEqual(result.run.calls.map((c) => c.split(' ')[0]), ['pg_isready', 'pg_basebackup']);
    assert.match(result.run.calls[1]!, /--host=orders-0\.orders-headless .*--username=replicator .*--wal-method=stream/);
  });

  it('leaves a data directory that is already initialised', () => {
    const result = bootstrap('orders-1', (pgdata) => {
      mkdirSync(pgdata, { recursive: true });
      writeFileSync(join(pgdata, 'PG_VERSION'), '17\n');
    });
    assert.equal(result.run.status, 0, result.run.stderr);
    assert.deepEqual(result.run.calls, []);
    assert.equal(result.standby, false);
  });

  it('writes the replication passfile on every start, readable by its owner only', () => {
    for (const pod of ['orders-1', 'orders-2']) {
      const result = bootstrap(pod);
      assert.equal(result.passfile, '*:*:*:replicator:repl\n');
      assert.equal(result.passfileMode, 0o600);
    }
  });
});
