// kubectl against a real Strongroom: discovery, apply (client- and server-side), get in every output
// format, watch, patch, label, scale, delete, explain, raw subresource calls and the errors users see. Each block
// works in its own namespace, so the blocks do not see each other's objects.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parse as parseYAML } from 'yaml';
import { startTestServer, type TestServer } from '../support/server.ts';
import { kubectlFor, tableRows, type Kubectl, type KubectlResult } from './kubectl.ts';

const GV = '/apis/strongroom.dev/v1alpha1';

let server: TestServer;
let kubectl: Kubectl;

before(async () => {
  server = await startTestServer();
  assert.ok(server.server.kubeconfigPath, 'the standalone server writes a kubeconfig');
  kubectl = kubectlFor(server.server.kubeconfigPath);
});
after(async () => {
  await kubectl?.close();
  await server?.stop();
});

/** A Database manifest as a user writes it; `spec` and `metadata` are YAML lines placed (indented) under those keys. */
function manifest(name: string, namespace: string, spec = 'engine: postgres', metadata = ''): string {
  const indent = (text: string) => text.split('\n').map((line) => `  ${line}`).join('\n');
  return [
    'apiVersion: strongroom.dev/v1alpha1',
    'kind: Database',
    'metadata:',
    `  name: ${name}`,
    `  namespace: ${namespace}`,
    ...(metadata ? [indent(metadata)] : []),
    'spec:',
    indent(spec),
    '',
  ].join('\n');
}

/** kubectl failed (exit code ≠ 0) and told the user why on stderr. */
function assertFailed(result: KubectlResult, pattern: RegExp): void {
  assert.notEqual(result.code, 0, `kubectl should have failed; stdout:\n${result.stdout}`);
  assert.match(result.stderr, pattern);
}

const jsonpath = (args: string[], path: string) => kubectl.ok(['get', ...args, '-o', `jsonpath=${path}`]);

/** Asserts that no Database `name` is left in `namespace` (a list, so kubectl does not look up the namespace). */
async function assertGone(name: string, namespace: string): Promise<void> {
  assert.equal(await kubectl.ok(['get', 'db', '-n', namespace, '--field-selector', `metadata.name=${name}`, '-o', 'name']), '', `${namespace}/${name} is still there`);
}

describe('discovery', () => {
  it('lists the strongroom.dev resources with their short names', async () => {
    const rows = tableRows(await kubectl.ok(['api-resources', '--api-group', 'strongroom.dev']));
    assert.deepEqual(rows[0], ['NAME', 'SHORTNAMES', 'APIVERSION', 'NAMESPACED', 'KIND']);
    assert.deepEqual(rows.slice(1).sort(), [
      ['backups', '', 'strongroom.dev/v1alpha1', 'true', 'Backup'],
      ['databases', 'db', 'strongroom.dev/v1alpha1', 'true', 'Database'],
      ['restores', '', 'strongroom.dev/v1alpha1', 'true', 'Restore'],
    ]);
  });

  it('serves the version', async () => {
    const version = JSON.parse(await kubectl.ok(['version', '-o', 'json']));
    assert.match(version.serverVersion.gitVersion, /^v\d+\.\d+\.\d+/);
  });
});

describe('kubectl apply (client-side)', () => {
  const ns = 'applying';

  it('creates, leaves an unchanged manifest alone, and configures a changed one', async () => {
    const first = kubectl.file('orders.yaml', manifest('orders', ns, 'engine: postgres\nreplicas: 1'));
    assert.equal((await kubectl.ok(['apply', '-f', first])).trim(), 'database.strongroom.dev/orders created');
    assert.equal((await kubectl.ok(['apply', '-f', first])).trim(), 'database.strongroom.dev/orders unchanged');
    const changed = kubectl.file('orders-2.yaml', manifest('orders', ns, 'engine: postgres\nreplicas: 3'));
    assert.equal((await kubectl.ok(['apply', '-f', changed])).trim(), 'database.strongroom.dev/orders configured');
    assert.equal(await jsonpath(['db', 'orders', '-n', ns], '{.spec.replicas}'), '3');
    assert.equal(await jsonpath(['db', 'orders', '-n', ns], '{.metadata.generation}'), '2');
  });

  it('reads the manifest from stdin', async () => {
    const out = await kubectl.ok(['apply', '-f', '-'], { input: manifest('piped', ns, 'engine: redis') });
    assert.equal(out.trim(), 'database.strongroom.dev/piped created');
    assert.equal(await jsonpath(['db', 'piped', '-n', ns], '{.spec.engine}'), 'redis');
  });

  it('creates nothing with --dry-run=server', async () => {
    const file = kubectl.file('dry.yaml', manifest('dry', ns));
    assert.equal((await kubectl.ok(['apply', '--dry-run=server', '-f', file])).trim(), 'database.strongroom.dev/dry created (server dry run)');
    assert.equal((await kubectl.ok(['apply', '--server-side', '--dry-run=server', '-f', file])).trim(), 'database.strongroom.dev/dry serverside-applied (server dry run)');
    await assertGone('dry', ns);
  });
});

describe('kubectl get', () => {
  const ns = 'listing';

  before(async () => {
    const objects = [
      manifest('pg1', ns, 'engine: postgres', 'labels:\n  tier: gold'),
      manifest('rd1', ns, 'engine: redis\nstorage:\n  size: 2Gi', 'labels:\n  tier: silver'),
      manifest('et1', ns, 'engine: etcd\nreplicas: 3'),
      manifest('elsewhere', 'listing-other', 'engine: redis'),
    ];
    await kubectl.ok(['apply', '-f', kubectl.file('listing.yaml', objects.join('---\n'))]);
  });

  it('prints the printer columns as a table', async () => {
    const rows = tableRows(await kubectl.ok(['get', 'databases', '-n', ns]));
    assert.deepEqual(rows[0], ['NAME', 'ENGINE', 'VERSION', 'READY', 'PHASE', 'LAST-BACKUP', 'AGE']);
    assert.deepEqual(rows.slice(1).map((r) => r[0]), ['et1', 'pg1', 'rd1']);
    const [, engine, version, ready, phase, lastBackup, age] = rows.find((r) => r[0] === 'et1')!;
    // Missing values are nil cells, printed empty, as kubectl prints a custom resource's printer columns.
    assert.deepEqual([engine, ready, phase, lastBackup], ['etcd', '0/3', '', '']);
    assert.match(version!, /^\d+(\.\d+)*$/, 'the defaulted version');
    assert.match(age!, /^\d+s$/);
  });

  it('takes its own -o yaml output (a List) back with kubectl apply', async () => {
    // kubectl maps `kind: List` through the core group and validates it client-side against /openapi/v2 (protobuf).
    const dump = await kubectl.ok(['get', 'db', '-n', ns, '-o', 'yaml']);
    const out = await kubectl.ok(['apply', '-f', '-'], { input: dump });
    assert.match(out, /^database\.strongroom\.dev\/et1 (unchanged|configured)\ndatabase\.strongroom\.dev\/pg1 (unchanged|configured)\ndatabase\.strongroom\.dev\/rd1 (unchanged|configured)\n$/);
  });

  it('prints the extra columns with -o wide', async () => {
    const rows = tableRows(await kubectl.ok(['get', 'db', '-n', ns, '-o', 'wide']));
    assert.deepEqual(rows[0], ['NAME', 'ENGINE', 'VERSION', 'READY', 'PHASE', 'LAST-BACKUP', 'AGE', 'ENDPOINT', 'NEXT-BACKUP', 'STORAGE']);
    assert.equal(rows.find((r) => r[0] === 'rd1')?.at(-1), '2Gi');
    assert.equal(rows.find((r) => r[0] === 'pg1')?.at(-1), '1Gi', 'the defaulted storage size');
  });

  it('prints a single object', async () => {
    const rows = tableRows(await kubectl.ok(['get', 'database', 'pg1', '-n', ns]));
    assert.equal(rows.length, 2);
    assert.deepEqual(rows[1]!.slice(0, 2), ['pg1', 'postgres']);
  });

  it('reports a missing database as not found, in the default namespace and in others', async () => {
    // In another namespace kubectl then asks GET /api/v1/namespaces/NS whether the namespace exists, and prints that
    // answer instead if it is a 404.
    for (const namespace of ['default', ns]) {
      assertFailed(await kubectl.run(['get', 'db', 'nope', '-n', namespace]), /^Error from server \(NotFound\): databases\.strongroom\.dev "nope" not found$/m);
    }
  });

  it('prints YAML and JSON', async () => {
    const list = parseYAML(await kubectl.ok(['get', 'db', '-n', ns, '-o', 'yaml']));
    assert.deepEqual(list.items.map((i: any) => `${i.apiVersion}/${i.kind}/${i.metadata.name}`), [
      'strongroom.dev/v1alpha1/Database/et1',
      'strongroom.dev/v1alpha1/Database/pg1',
      'strongroom.dev/v1alpha1/Database/rd1',
    ]);
    const one = parseYAML(await kubectl.ok(['get', 'db', 'pg1', '-n', ns, '-o', 'yaml']));
    assert.equal(one.kind, 'Database');
    assert.equal(one.metadata.labels.tier, 'gold');
    assert.equal(one.metadata.managedFields, undefined, 'kubectl hides managedFields by default');
    const json = JSON.parse(await kubectl.ok(['get', 'db', 'rd1', '-n', ns, '-o', 'json']));
    assert.equal(json.spec.storage.size, '2Gi');
    assert.match(json.metadata.uid, /^[0-9a-f-]{36}$/);
  });

  it('evaluates jsonpath and name output', async () => {
    assert.equal(await jsonpath(['db', '-n', ns], '{.items[*].metadata.name}'), 'et1 pg1 rd1');
    assert.equal(await jsonpath(['db', '-n', ns], '{range .items[*]}{.metadata.name}={.spec.engine}{"\\n"}{end}'), 'et1=etcd\npg1=postgres\nrd1=redis\n');
    assert.equal(await kubectl.ok(['get', 'db', '-n', ns, '-o', 'name']), 'database.strongroom.dev/et1\ndatabase.strongroom.dev/pg1\ndatabase.strongroom.dev/rd1\n');
  });

  it('lists all namespaces with -A', async () => {
    const rows = tableRows(await kubectl.ok(['get', 'db', '-A']));
    assert.deepEqual(rows[0]!.slice(0, 2), ['NAMESPACE', 'NAME']);
    const names = rows.slice(1).map((r) => `${r[0]}/${r[1]}`);
    for (const name of ['listing/et1', 'listing/pg1', 'listing/rd1', 'listing-other/elsewhere']) assert.ok(names.includes(name), `${name} in ${names}`);
  });

  it('shows labels and filters by label selectors', async () => {
    const rows = tableRows(await kubectl.ok(['get', 'db', '-n', ns, '--show-labels']));
    assert.equal(rows[0]!.at(-1), 'LABELS');
    assert.equal(rows.find((r) => r[0] === 'pg1')!.at(-1), 'tier=gold');
    assert.equal(rows.find((r) => r[0] === 'et1')!.at(-1), '<none>');
    const cases: Array<[string, string]> = [
      ['tier=gold', 'pg1'],
      ['tier in (gold,silver)', 'pg1 rd1'],
      ['tier,tier!=gold', 'rd1'],
      ['!tier', 'et1'],
    ];
    for (const [selector, expected] of cases) {
      assert.equal(await jsonpath(['db', '-n', ns, '-l', selector], '{.items[*].metadata.name}'), expected, selector);
    }
  });

  it('filters by field selectors and refuses unknown fields', async () => {
    assert.equal(await jsonpath(['db', '-n', ns, '--field-selector', 'spec.engine=redis'], '{.items[*].metadata.name}'), 'rd1');
    assert.equal(await jsonpath(['db', '-n', ns, '--field-selector', 'spec.engine!=redis'], '{.items[*].metadata.name}'), 'et1 pg1');
    assert.equal(await jsonpath(['db', '-A', '--field-selector', 'spec.engine=redis,metadata.namespace=listing-other'], '{.items[*].metadata.name}'), 'elsewhere');
    assert.equal(await jsonpath(['db', '-n', ns, '--field-selector', 'metadata.name=et1'], '{.items[*].metadata.name}'), 'et1');
    assertFailed(await kubectl.run(['get', 'db', '-n', ns, '--field-selector', 'spec.replicas=1']), /spec\.replicas/);
  });

  it('says so when a namespace has none', async () => {
    const result = await kubectl.run(['get', 'db', '-n', 'empty-namespace']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /No resources found in empty-namespace namespace\./);
  });

  it('pages with --chunk-size', async () => {
    assert.equal(await jsonpath(['db', '-n', ns, '--chunk-size=1'], '{.items[*].metadata.name}'), 'et1 pg1 rd1');
    const rows = tableRows(await kubectl.ok(['get', 'db', '-n', ns, '--chunk-size=2']));
    assert.deepEqual(rows.map((r) => r[0]), ['NAME', 'et1', 'pg1', 'rd1']);
  });

  it('includes databases in the all and strongroom categories', async () => {
    for (const category of ['all', 'strongroom']) {
      const names = (await kubectl.ok(['get', category, '-n', ns, '-o', 'name'])).trim().split('\n');
      assert.deepEqual(names, ['database.strongroom.dev/et1', 'database.strongroom.dev/pg1', 'database.strongroom.dev/rd1'], category);
    }
  });

  it('describes a database', async () => {
    const out = await kubectl.ok(['describe', 'db', 'pg1', '-n', ns]);
    assert.match(out, /^Name:\s+pg1$/m);
    assert.match(out, /^Labels:\s+tier=gold$/m);
    assert.match(out, /Engine:\s+postgres/);
  });
});

describe('kubectl get -w', () => {
  const ns = 'watching';

  it('prints rows as objects are created, changed and deleted', async () => {
    await kubectl.ok(['apply', '-f', kubectl.file('w0.yaml', manifest('w0', ns))]);
    const watch = kubectl.background(['get', 'db', '-n', ns, '-w', '--output-watch-events']);
    try {
      await watch.waitForLine(/^ADDED\s+w0\s+postgres\s/);
      await kubectl.ok(['apply', '-f', kubectl.file('w1.yaml', manifest('w1', ns, 'engine: redis'))]);
      await watch.waitForLine(/^ADDED\s+w1\s+redis\s/);
      await kubectl.ok(['patch', 'db', 'w1', '-n', ns, '--type=merge', '-p', '{"spec":{"replicas":3}}']);
      await watch.waitForLine(/^MODIFIED\s+w1\s+redis\s+\S+\s+0\/3\s/);
      await kubectl.ok(['delete', 'db', 'w1', '-n', ns]);
      await watch.waitForLine(/^DELETED\s+w1\s/);
      assert.equal(watch.hasExited(), false, 'the watch keeps running');
    } finally {
      await watch.stop();
    }
    assert.equal(watch.lines.filter((l) => /^EVENT\s+NAME\s+ENGINE/.test(l)).length, 1, `one header:\n${watch.lines.join('\n')}`);
  });

  it('watches one object with whole objects instead of a Table', async () => {
    await kubectl.ok(['apply', '-f', kubectl.file('w2.yaml', manifest('w2', ns))]);
    const watch = kubectl.background(['get', 'db', 'w2', '-n', ns, '-w', '-o', 'jsonpath={.metadata.name} {.spec.replicas}{"\\n"}']);
    try {
      // The first line is the current state: after it, the watch runs from the resourceVersion of that read.
      await watch.waitForLine(/^w2 1$/);
      for (const replicas of [2, 3]) {
        await kubectl.ok(['scale', 'db', 'w2', '-n', ns, `--replicas=${replicas}`]);
        await watch.waitForLine(new RegExp(`^w2 ${replicas}$`));
      }
      assert.deepEqual(watch.lines, ['w2 1', 'w2 2', 'w2 3']);
    } finally {
      await watch.stop();
    }
  });
});

describe('kubectl patch, label, annotate, edit', () => {
  const ns = 'patching';
  before(async () => {
    await kubectl.ok(['apply', '-f', kubectl.file('p1.yaml', manifest('p1', ns))]);
  });

  it('applies merge and JSON patches', async () => {
    assert.equal(
      (await kubectl.ok(['patch', 'db', 'p1', '-n', ns, '--type=merge', '-p', '{"spec":{"replicas":2}}'])).trim(),
      'database.strongroom.dev/p1 patched',
    );
    assert.equal(await jsonpath(['db', 'p1', '-n', ns], '{.spec.replicas}'), '2');
    await kubectl.ok(['patch', 'db', 'p1', '-n', ns, '--type=json', '-p', '[{"op":"replace","path":"/spec/replicas","value":3}]']);
    assert.equal(await jsonpath(['db', 'p1', '-n', ns], '{.spec.replicas}'), '3');
    const noop = await kubectl.ok(['patch', 'db', 'p1', '-n', ns, '--type=merge', '-p', '{"spec":{"replicas":3}}']);
    assert.equal(noop.trim(), 'database.strongroom.dev/p1 patched (no change)');
  });

  it('refuses a strategic merge patch with a readable 415', async () => {
    const result = await kubectl.run(['patch', 'db', 'p1', '-n', ns, '-p', '{"spec":{"replicas":4}}']);
    // kubectl recognises the 415 (UnsupportedMediaType) and says which patch type the resource does not support.
    assertFailed(result, /application\/strategic-merge-patch\+json is not supported by strongroom\.dev\/v1alpha1, Kind=Database/);
    assert.match(result.stderr, /accepted media types include: .*application\/merge-patch\+json/, 'names the patch types that work');
    assert.equal(await jsonpath(['db', 'p1', '-n', ns], '{.spec.replicas}'), '3');
  });

  it('refuses an invalid patch with the field path', async () => {
    const result = await kubectl.run(['patch', 'db', 'p1', '-n', ns, '--type=merge', '-p', '{"spec":{"replicas":0}}']);
    assertFailed(result, /is invalid/);
    assert.match(result.stderr, /spec\.replicas/);
    const labels = await kubectl.run(['patch', 'db', 'p1', '-n', ns, '--type=merge', '-p', '{"metadata":{"labels":{"team":"not a value"}}}']);
    assertFailed(labels, /metadata\.labels/);
    assertFailed(await kubectl.run(['patch', 'db', 'p1', '-n', ns, '--type=json', '-p', '[{"op":"test","path":"/spec/replicas","value":9}]']), /test/i);
  });

  it('labels and annotates', async () => {
    const generation = await jsonpath(['db', 'p1', '-n', ns], '{.metadata.generation}');
    assert.equal((await kubectl.ok(['label', 'db', 'p1', '-n', ns, 'team=core'])).trim(), 'database.strongroom.dev/p1 labeled');
    assertFailed(await kubectl.run(['label', 'db', 'p1', '-n', ns, 'team=other']), /already has a value \(core\)/);
    await kubectl.ok(['label', 'db', 'p1', '-n', ns, 'team=other', '--overwrite']);
    assert.equal(await jsonpath(['db', 'p1', '-n', ns], '{.metadata.labels.team}'), 'other');
    await kubectl.ok(['label', 'db', 'p1', '-n', ns, 'team-']);
    assert.equal(await jsonpath(['db', 'p1', '-n', ns], '{.metadata.labels.team}'), '');
    assert.equal((await kubectl.ok(['annotate', 'db', 'p1', '-n', ns, 'note=hello world'])).trim(), 'database.strongroom.dev/p1 annotated');
    assert.equal(await jsonpath(['db', 'p1', '-n', ns], '{.metadata.annotations.note}'), 'hello world');
    assert.equal(await jsonpath(['db', 'p1', '-n', ns], '{.metadata.generation}'), generation, 'metadata changes keep the generation');
  });

  it('edits with $KUBE_EDITOR', async () => {
    const editor = `sed -i -e 's/^  replicas: 3$/  replicas: 5/'`;
    const out = await kubectl.ok(['edit', 'db', 'p1', '-n', ns], { env: { KUBE_EDITOR: editor } });
    assert.equal(out.trim(), 'database.strongroom.dev/p1 edited');
    assert.equal(await jsonpath(['db', 'p1', '-n', ns], '{.spec.replicas}'), '5');
  });
});

describe('kubectl scale', () => {
  const ns = 'scaling';

  it('scales through the scale subresource', async () => {
    await kubectl.ok(['apply', '-f', kubectl.file('sc.yaml', manifest('sc', ns))]);
    assert.equal((await kubectl.ok(['scale', 'database', 'sc', '-n', ns, '--replicas', '3'])).trim(), 'database.strongroom.dev/sc scaled');
    assert.equal(await jsonpath(['db', 'sc', '-n', ns], '{.spec.replicas}'), '3');
    const scale = JSON.parse(await kubectl.ok(['get', 'db', 'sc', '-n', ns, '--subresource=scale', '-o', 'json']));
    assert.deepEqual([scale.apiVersion, scale.kind, scale.spec.replicas], ['autoscaling/v1', 'Scale', 3]);
  });

  it('honours --current-replicas and refuses an invalid count', async () => {
    assertFailed(await kubectl.run(['scale', 'db', 'sc', '-n', ns, '--current-replicas=1', '--replicas=5']), /xpected replicas to be 1, was 3/);
    await kubectl.ok(['scale', 'db', 'sc', '-n', ns, '--current-replicas=3', '--replicas=5']);
    assert.equal(await jsonpath(['db', 'sc', '-n', ns], '{.spec.replicas}'), '5');
    assertFailed(await kubectl.run(['scale', 'db', 'sc', '-n', ns, '--replicas=1000']), /spec\.replicas/);
  });
});

describe('kubectl delete', () => {
  const ns = 'deleting';

  it('returns once the database is gone', async () => {
    await kubectl.ok(['apply', '-f', kubectl.file('d1.yaml', manifest('d1', ns))]);
    assert.equal((await kubectl.ok(['delete', 'database', 'd1', '-n', ns])).trim(), `database.strongroom.dev "d1" deleted from ${ns} namespace`);
    await assertGone('d1', ns);
    assertFailed(await kubectl.run(['delete', 'db', 'd1', '-n', ns]), /databases\.strongroom\.dev "d1" not found/);
  });

  it('waits while a finalizer holds the database, and returns when it is removed', async () => {
    await kubectl.ok(['apply', '-f', kubectl.file('d2.yaml', manifest('d2', ns, 'engine: redis', 'finalizers:\n- example.com/hold'))]);
    const deleting = kubectl.background(['delete', 'db', 'd2', '-n', ns]);
    try {
      // The object is marked, not removed, and kubectl keeps waiting for it.
      await deleting.waitForLine(/database\.strongroom\.dev "d2" deleted/);
      assert.notEqual(await jsonpath(['db', 'd2', '-n', ns], '{.metadata.deletionTimestamp}'), '');
      assert.equal(deleting.hasExited(), false, `kubectl delete returned while the finalizer still held the object: ${deleting.lines}`);
      await kubectl.ok(['patch', 'db', 'd2', '-n', ns, '--type=json', '-p', '[{"op":"remove","path":"/metadata/finalizers"}]']);
      const result = await deleting.exited;
      assert.equal(result.code, 0, result.stderr);
    } finally {
      await deleting.stop();
    }
    await assertGone('d2', ns);
  });

  it('returns at once with --wait=false', async () => {
    await kubectl.ok(['apply', '-f', kubectl.file('d3.yaml', manifest('d3', ns, 'engine: redis', 'finalizers:\n- example.com/hold'))]);
    await kubectl.ok(['delete', 'db', 'd3', '-n', ns, '--wait=false']);
    assert.notEqual(await jsonpath(['db', 'd3', '-n', ns], '{.metadata.deletionTimestamp}'), '');
    await kubectl.ok(['patch', 'db', 'd3', '-n', ns, '--type=merge', '-p', '{"metadata":{"finalizers":null}}']);
    await assertGone('d3', ns);
  });

  it('keeps the database with --dry-run=server', async () => {
    await kubectl.ok(['apply', '-f', kubectl.file('d4.yaml', manifest('d4', ns))]);
    assert.match(await kubectl.ok(['delete', 'db', 'd4', '-n', ns, '--dry-run=server']), /"d4" deleted from deleting namespace \(server dry run\)/);
    assert.equal(await jsonpath(['db', 'd4', '-n', ns], '{.metadata.name}'), 'd4');
  });

  it('empties a namespace with --all, and with a raw deletecollection', async () => {
    const many = (prefix: string, namespace: string) => [1, 2, 3].map((i) => manifest(`${prefix}${i}`, namespace)).join('---\n');
    await kubectl.ok(['apply', '-f', kubectl.file('all.yaml', many('a', 'delete-all'))]);
    await kubectl.ok(['apply', '-f', kubectl.file('coll.yaml', many('c', 'delete-collection'))]);
    await kubectl.ok(['apply', '-f', kubectl.file('kept.yaml', manifest('kept', 'delete-kept'))]);
    await kubectl.ok(['delete', 'databases', '--all', '-n', 'delete-all']);
    await kubectl.ok(['delete', '--raw', `${GV}/namespaces/delete-collection/databases`]);
    for (const namespace of ['delete-all', 'delete-collection']) {
      assert.match((await kubectl.run(['get', 'db', '-n', namespace])).stderr, new RegExp(`No resources found in ${namespace} namespace`));
    }
    assert.equal(await jsonpath(['db', '-n', 'delete-kept'], '{.items[*].metadata.name}'), 'kept');
  });
});

describe('kubectl apply --server-side', () => {
  const ns = 'ssa';
  const path = (name: string, spec: string) => kubectl.file(name, manifest('s1', ns, spec));

  it('creates, detects a conflict between managers, and lets --force-conflicts win', async () => {
    const mine = path('s1.yaml', 'engine: postgres\nreplicas: 1');
    assert.equal((await kubectl.ok(['apply', '--server-side', '-f', mine])).trim(), 'database.strongroom.dev/s1 serverside-applied');
    assert.equal((await kubectl.ok(['apply', '--server-side', '-f', mine])).trim(), 'database.strongroom.dev/s1 serverside-applied');

    const theirs = path('s1-other.yaml', 'engine: postgres\nreplicas: 3');
    const conflict = await kubectl.run(['apply', '--server-side', '--field-manager=other', '-f', theirs]);
    assertFailed(conflict, /conflict/i);
    assert.match(conflict.stderr, /conflict with "kubectl"/);
    assert.match(conflict.stderr, /\.spec\.replicas/);
    assert.equal(await jsonpath(['db', 's1', '-n', ns], '{.spec.replicas}'), '1');

    await kubectl.ok(['apply', '--server-side', '--field-manager=other', '--force-conflicts', '-f', theirs]);
    assert.equal(await jsonpath(['db', 's1', '-n', ns], '{.spec.replicas}'), '3');

    const obj = parseYAML(await kubectl.ok(['get', 'db', 's1', '-n', ns, '-o', 'yaml', '--show-managed-fields']));
    const managers = Object.fromEntries(obj.metadata.managedFields.map((m: any) => [m.manager, m]));
    assert.deepEqual(Object.keys(managers).sort(), ['kubectl', 'other']);
    assert.equal(managers.kubectl.operation, 'Apply');
    assert.equal(managers.kubectl.fieldsV1['f:spec']['f:replicas'], undefined, 'kubectl lost spec.replicas to other');
    assert.deepEqual(managers.kubectl.fieldsV1['f:spec']['f:engine'], {});
    assert.deepEqual(managers.other.fieldsV1['f:spec']['f:replicas'], {});
  });

  it('leaves fields of another manager alone when a manager drops its own', async () => {
    // kubectl still applies engine; a merge patch by a third manager adds a label, which apply must keep.
    await kubectl.ok(['label', 'db', 's1', '-n', ns, 'owner=ops']);
    await kubectl.ok(['apply', '--server-side', '-f', path('s1-again.yaml', 'engine: postgres')]);
    assert.equal(await jsonpath(['db', 's1', '-n', ns], '{.metadata.labels.owner}'), 'ops');
    assert.equal(await jsonpath(['db', 's1', '-n', ns], '{.spec.replicas}'), '3');
  });

  it('converts a client-side applied object to server-side apply', async () => {
    const file = kubectl.file('csa.yaml', manifest('csa', ns, 'engine: redis\nreplicas: 1'));
    await kubectl.ok(['apply', '-f', file]);
    await kubectl.ok(['apply', '--server-side', '-f', kubectl.file('csa-2.yaml', manifest('csa', ns, 'engine: redis\nreplicas: 2'))]);
    assert.equal(await jsonpath(['db', 'csa', '-n', ns], '{.spec.replicas}'), '2');
  });
});

describe('kubectl explain', () => {
  it('describes database.spec', async () => {
    const out = await kubectl.ok(['explain', 'database.spec']);
    assert.match(out, /^GROUP:\s+strongroom\.dev$/m);
    assert.match(out, /^KIND:\s+Database$/m);
    assert.match(out, /^VERSION:\s+v1alpha1$/m);
    assert.match(out, /^FIELD: spec <Object>$/m);
    assert.match(out, /^ {2}engine\s+<string> -required-$/m);
    assert.match(out, /^ {2}replicas\s+<integer>$/m);
    assert.match(out, /^ {2}backup\s+<Object>$/m);
    assert.match(out, /The database engine: postgres, redis or etcd/);
    assert.match(out, /enum: postgres, redis, etcd/, 'lists the engines');
  });

  it('describes nested fields by the plural name', async () => {
    const out = await kubectl.ok(['explain', 'databases.spec.backup.retention']);
    assert.match(out, /^FIELD: retention <Object>$/m);
    assert.match(out, /^ {2}keepLast\s+<integer>$/m);
    assert.match(out, /Keep the newest n backups\./);
    const recursive = await kubectl.ok(['explain', 'db.spec.backup', '--recursive']);
    assert.match(recursive, /^ {4}s3\s+<Object>$/m);
    assert.match(recursive, /^ {6}bucket\s+<string> -required-$/m);
  });

  it('explains backups and refuses unknown fields', async () => {
    assert.match(await kubectl.ok(['explain', 'backups.spec']), /^KIND:\s+Backup$/m);
    assertFailed(await kubectl.run(['explain', 'database.spec.nope']), /field "nope" does not exist/);
  });
});

describe('kubectl create --raw on the backup subresource', () => {
  const ns = 'raw';

  it('prints the created Backup, which kubectl get backups then lists', async () => {
    await kubectl.ok(['apply', '-f', kubectl.file('orders.yaml', manifest('orders', ns))]);
    const body = kubectl.file('backup.json', JSON.stringify({ spec: { hold: true } }));
    const backup = JSON.parse(await kubectl.ok(['create', '--raw', `${GV}/namespaces/${ns}/databases/orders/backup`, '-f', body]));
    assert.equal(backup.kind, 'Backup');
    assert.equal(backup.metadata.namespace, ns);
    assert.equal(backup.spec.databaseName, 'orders');
    assert.equal(backup.spec.hold, true);

    const rows = tableRows(await kubectl.ok(['get', 'backups', '-n', ns]));
    assert.deepEqual(rows[0], ['NAME', 'DATABASE', 'PHASE', 'SIZE', 'PROGRESS', 'AGE']);
    assert.deepEqual(rows.slice(1).map((r) => r.slice(0, 2)), [[backup.metadata.name, 'orders']]);
    assert.equal(await jsonpath(['backups', '-n', ns, '--field-selector', 'spec.databaseName=orders'], '{.items[*].metadata.name}'), backup.metadata.name);

    const empty = kubectl.file('empty.json', '{}');
    const second = JSON.parse(await kubectl.ok(['create', '--raw', `${GV}/namespaces/${ns}/databases/orders/backup`, '-f', empty]));
    assert.notEqual(second.metadata.name, backup.metadata.name);
    assertFailed(await kubectl.run(['create', '--raw', `${GV}/namespaces/${ns}/databases/missing/backup`, '-f', empty]), /NotFound|not found/);
  });

  it('creates a Restore of a completed backup, and refuses one without backupName or of a backup that is not complete', async () => {
    await kubectl.ok(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'strongroom.dev/v1alpha1', kind: 'Backup', metadata: { name: 'b1', namespace: ns }, spec: { databaseName: 'orders' } }) });
    assertFailed(
      await kubectl.run(['create', '--raw', `${GV}/namespaces/${ns}/databases/orders/restore`, '-f', kubectl.file('early.json', '{"spec":{"backupName":"b1"}}')]),
      /spec\.backupName: Invalid value: "b1": .*Pending/,
    );
    // Standalone runs no controller: the status an agent would report is written as the agent writes it.
    const completed = { status: { phase: 'Completed', completionTime: '2026-01-01T00:00:00Z', location: 'pvc://orders-backups/b1', sha256: 'a'.repeat(64), sizeBytes: 1 } };
    await kubectl.ok(['patch', 'backup', 'b1', '-n', ns, '--subresource=status', '--type=merge', '-p', JSON.stringify(completed)]);
    const restore = JSON.parse(
      await kubectl.ok(['create', '--raw', `${GV}/namespaces/${ns}/databases/orders/restore`, '-f', kubectl.file('restore.json', '{"spec":{"backupName":"b1"}}')]),
    );
    assert.equal(restore.kind, 'Restore');
    assert.equal(await jsonpath(['restores', '-n', ns], '{.items[*].spec.backupName}'), 'b1');
    assertFailed(await kubectl.run(['create', '--raw', `${GV}/namespaces/${ns}/databases/orders/restore`, '-f', kubectl.file('no-backup.json', '{"spec":{}}')]), /backupName/);
  });
});

describe('bad manifests', () => {
  const ns = 'bad';

  it('refuses an unknown engine with a 422 naming the field', async () => {
    for (const verb of [['apply'], ['create'], ['apply', '--server-side']]) {
      const result = await kubectl.run([...verb, '-f', kubectl.file('oracle.yaml', manifest('oracle', ns, 'engine: oracle'))]);
      assertFailed(result, /"oracle" is invalid/);
      assert.match(result.stderr, /spec\.engine: Unsupported value: "oracle"/, verb.join(' '));
    }
    await assertGone('oracle', ns);
  });

  it('refuses an unknown field with strict validation, naming the field', async () => {
    const file = kubectl.file('bogus.yaml', manifest('bogus', ns, 'engine: postgres\nbogus: 1'));
    for (const verb of [['apply'], ['create']]) {
      assertFailed(await kubectl.run([...verb, '-f', file]), /unknown field "spec\.bogus"/);
    }
    assertFailed(await kubectl.run(['apply', '--server-side', '-f', file]), /spec\.bogus/);
    // --validate=false sends fieldValidation=Ignore: the field is dropped.
    await kubectl.ok(['apply', '--validate=false', '-f', file]);
    assert.equal(await jsonpath(['db', 'bogus', '-n', ns], '{.spec}').then((s) => JSON.parse(s).bogus), undefined);
  });

  it('refuses malformed YAML', async () => {
    const file = kubectl.file('broken.yaml', 'apiVersion: strongroom.dev/v1alpha1\nkind: Database\nmetadata:\n  name: [broken\nspec: {engine: postgres}\n');
    assertFailed(await kubectl.run(['apply', '-f', file]), /yaml|error converting|parse/i);
  });

  it('refuses a manifest without a name', async () => {
    const text = 'apiVersion: strongroom.dev/v1alpha1\nkind: Database\nmetadata:\n  namespace: bad\nspec:\n  engine: postgres\n';
    const file = kubectl.file('nameless.yaml', text);
    assertFailed(await kubectl.run(['apply', '-f', file]), /name/);
    const created = await kubectl.run(['create', '-f', file]);
    assertFailed(created, /metadata\.name/);
    assert.match(created.stderr, /name or generateName is required/);
  });

  it('refuses an object in another namespace than the one asked for', async () => {
    assertFailed(await kubectl.run(['apply', '-n', 'elsewhere', '-f', kubectl.file('ns.yaml', manifest('ns', ns))]), /namespace/);
  });

  it('refuses an unknown kind', async () => {
    // kubectl validates a kind the OpenAPI v3 document does not declare client-side, against /openapi/v2 as protobuf.
    const wrongKind = manifest('k', ns).replace('kind: Database', 'kind: Databse');
    assertFailed(await kubectl.run(['apply', '-f', kubectl.file('kind.yaml', wrongKind)]), /no matches for kind "Databse"/);
  });

  it('applies the valid documents of a multi-document file and reports the invalid one', async () => {
    const text = [manifest('good', 'bad-mixed'), manifest('worse', 'bad-mixed', 'engine: postgres\nreplicas: -1')].join('---\n');
    const result = await kubectl.run(['apply', '-f', kubectl.file('mixed.yaml', text)]);
    assertFailed(result, /spec\.replicas/);
    assert.match(result.stdout, /database\.strongroom\.dev\/good created/);
    assert.equal(await jsonpath(['db', '-n', 'bad-mixed'], '{.items[*].metadata.name}'), 'good');
  });
});
