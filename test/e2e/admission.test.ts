// The cluster's admission policies applied to Strongroom's resources, on a real control plane: ValidatingAdmissionPolicies,
// their bindings and params, and webhook configurations stored in kube-apiserver, read by Strongroom's informers as
// its ServiceAccount (so with the base's RBAC), and webhooks served by a test server on 127.0.0.1.
// The first block drives the plugins through clusterAdmission() with attributes built here; the second drives
// Strongroom through kubectl and the aggregator.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { clusterAdmission, type ClusterAdmission } from '../../src/admission/cluster.ts';
import { loadClusterConfig } from '../../src/server/delegation/cluster.ts';
import { subjectAccessReviewAuthorizer, subjectAccessReviewer } from '../../src/server/delegation/subjectaccessreview.ts';
import { startStrongroomCluster, type StrongroomCluster } from '../cluster/strongroom.ts';
import { attributes, database, refusal } from '../admission/fixtures.ts';
import { closedPort, jsonPatch, startWebhookServer, type WebhookServer } from '../admission/webhookserver.ts';
import { kubectlFor, type Kubectl } from './kubectl.ts';

// The ServiceAccount of apiservice/base, as test/cluster/strongroom.ts signs Strongroom in.
const SERVICE_ACCOUNT = 'system:serviceaccount:strongroom-system:strongroom';
const SERVICE_ACCOUNT_GROUPS = ['system:serviceaccounts', 'system:serviceaccounts:strongroom-system'];

let cluster: StrongroomCluster;
let kubectl: Kubectl;
let webhooks: WebhookServer;

before(async () => {
  webhooks = await startWebhookServer();
  cluster = await startStrongroomCluster({ controllers: false, nodes: 1, log: (line) => console.log(`[admission] ${line}`) });
  kubectl = kubectlFor(cluster.kubeconfig);
});
after(async () => {
  await kubectl?.close();
  await cluster?.stop();
  await webhooks?.stop();
});

/** Applies objects given as JSON, through kube-apiserver. */
async function apply(...objects: unknown[]): Promise<void> {
  await kubectl.ok(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }) });
}

/** Waits until `check` passes: the informers see a new object a moment after kube-apiserver stores it. */
async function eventually(what: string, check: () => Promise<void>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`${what}: ${(error as Error).message}`);
      await sleep(200);
    }
  }
}

const ofNamespace = (namespace: string) => ({ matchLabels: { 'kubernetes.io/metadata.name': namespace } });

function databaseRules(namespace: string) {
  return {
    namespaceSelector: ofNamespace(namespace),
    resourceRules: [{ apiGroups: ['strongroom.dev'], apiVersions: ['v1alpha1'], resources: ['databases'], operations: ['CREATE', 'UPDATE'] }],
  };
}

function policy(name: string, namespace: string, spec: Record<string, unknown>) {
  return { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingAdmissionPolicy', metadata: { name }, spec: { matchConstraints: databaseRules(namespace), failurePolicy: 'Fail', ...spec } };
}

function binding(name: string, policyName: string, spec: Record<string, unknown>) {
  return { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingAdmissionPolicyBinding', metadata: { name }, spec: { policyName, ...spec } };
}

function webhookConfiguration(kind: 'Validating' | 'Mutating', name: string, namespace: string, hooks: Record<string, unknown>[]) {
  const { resourceRules, namespaceSelector } = databaseRules(namespace);
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: `${kind}WebhookConfiguration`,
    metadata: { name },
    webhooks: hooks.map((hook) => ({
      rules: resourceRules,
      namespaceSelector,
      sideEffects: 'None',
      admissionReviewVersions: ['v1'],
      timeoutSeconds: 5,
      failurePolicy: 'Fail',
      ...hook,
    })),
  };
}



describe('the admission plugins on the cluster’s stored configuration', () => {
  const ns = 'admission-plugins';
  let admission: ClusterAdmission;
  const onDatabase = (spec: Record<string, unknown> = {}) => attributes({ object: { ...database('orders', spec), metadata: { name: 'orders', namespace: ns } } });
  const policies = () => admission.validating[0]!;
  const validatingWebhooks = () => admission.validating[1]!;
  const mutatingWebhooks = () => admission.mutating[0]!;

  before(async () => {
    await kubectl.ok(['create', 'namespace', ns]);
    const kubeconfig = await cluster.controlPlane.writeKubeconfig(SERVICE_ACCOUNT, SERVICE_ACCOUNT_GROUPS);
    const kc = loadClusterConfig(kubeconfig)!;
    const logger = pino({ level: 'warn' });
    admission = clusterAdmission({ cluster: kc, logger, authorizer: subjectAccessReviewAuthorizer(subjectAccessReviewer(kc), logger) });
    await admission.waitForSync(AbortSignal.timeout(30_000));
  });
  after(() => admission?.stop());

  it('denies with a policy whose param is a ConfigMap, created after the binding', async () => {
    await apply(
      policy('engines-a', ns, {
        paramKind: { apiVersion: 'v1', kind: 'ConfigMap' },
        validations: [{ expression: 'object.spec.engine in params.data.allowed.split(",")', messageExpression: "'engine ' + object.spec.engine + ' is not allowed'" }],
      }),
      binding('engines-a', 'engines-a', { paramRef: { name: 'allowed-engines', parameterNotFoundAction: 'Deny' }, validationActions: ['Deny'] }),
    );
    await eventually('the binding without its param', async () => {
      const error = await refusal(policies().validate(onDatabase()));
      assert.match(error.message, /failed to configure binding: no params found for policy binding with `Deny` parameterNotFoundAction/);
    });
    await apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'allowed-engines', namespace: ns }, data: { allowed: 'redis,etcd' } });
    await eventually('the denial', async () => {
      const error = await refusal(policies().validate(onDatabase()));
      assert.equal(error.code, 422);
      assert.equal(error.message, `databases.strongroom.dev "orders" is forbidden: ValidatingAdmissionPolicy 'engines-a' with binding 'engines-a' denied request: engine postgres is not allowed`);
    });
    await policies().validate(onDatabase({ engine: 'redis' }));
  });

  it('warns with a Warn binding', async () => {
    await apply(
      policy('replicas-a', ns, { validations: [{ expression: 'object.spec.replicas >= 2', message: 'one replica has no failover' }] }),
      binding('replicas-a', 'replicas-a', { validationActions: ['Warn'] }),
    );
    await eventually('the warning', async () => {
      const result = await policies().validate(onDatabase({ engine: 'redis' }));
      assert.deepEqual(result.warnings, ["Validation failed for ValidatingAdmissionPolicy 'replicas-a' with binding 'replicas-a': one replica has no failover"]);
    });
  });

  it('asks the cluster through authorizer checks', async () => {
    await apply(
      policy('secrets-a', ns, {
        validations: [
          {
            expression: "object.spec.engine != 'etcd' || authorizer.group('').resource('secrets').namespace(object.metadata.namespace).check('get').allowed()",
            message: 'etcd Databases are for users who may read secrets',
          },
        ],
      }),
      binding('secrets-a', 'secrets-a', { validationActions: ['Deny'] }),
    );
    const etcd = (user: { name: string; groups: string[] }) => ({ ...onDatabase({ engine: 'etcd' }), userInfo: { ...user, extra: {} } });
    await eventually('the denial for a user without access', async () => {
      const error = await refusal(policies().validate(etcd({ name: 'alice', groups: ['system:authenticated'] })));
      assert.match(error.message, /with binding 'secrets-a' denied request: etcd Databases are for users who may read secrets$/);
    });
    await policies().validate(etcd({ name: 'admin', groups: ['system:masters', 'system:authenticated'] }));
  });

  it('calls webhooks registered with a url: a validating one denies, a mutating one adds a label', async () => {
    webhooks.handle('/a/deny', () => ({ allowed: false, status: { code: 403, reason: 'Forbidden', message: 'databases need an owner label' } }));
    webhooks.handle('/a/label', () => jsonPatch([{ op: 'add', path: '/metadata/labels', value: { owner: 'webhook' } }]));
    await apply(
      webhookConfiguration('Validating', 'owner-a', ns, [{ name: 'owner.a.example.com', clientConfig: { url: `${webhooks.url}/a/deny`, caBundle: webhooks.caBundle } }]),
      webhookConfiguration('Mutating', 'label-a', ns, [{ name: 'label.a.example.com', clientConfig: { url: `${webhooks.url}/a/label`, caBundle: webhooks.caBundle } }]),
    );
    await eventually('the validating webhook', async () => {
      const error = await refusal(validatingWebhooks().validate(onDatabase()));
      assert.equal(error.message, 'admission webhook "owner.a.example.com" denied the request: databases need an owner label');
    });
    await eventually('the mutating webhook', async () => {
      const result = await mutatingWebhooks().admit(onDatabase());
      assert.deepEqual(result.object?.metadata.labels, { owner: 'webhook' });
    });
    await kubectl.ok(['delete', 'validatingwebhookconfiguration', 'owner-a']);
    await kubectl.ok(['delete', 'mutatingwebhookconfiguration', 'label-a']);
  });

  it('lets a write through a webhook that is down under Ignore and refuses it under Fail', async () => {
    const down = { url: `https://127.0.0.1:${await closedPort()}/down`, caBundle: webhooks.caBundle };
    await apply(webhookConfiguration('Validating', 'down-a', ns, [{ name: 'down.a.example.com', clientConfig: down, failurePolicy: 'Ignore' }]));
    await eventually('the ignored webhook', async () => {
      const result = await validatingWebhooks().validate(onDatabase());
      assert.deepEqual(result.auditAnnotations, { 'failed-open.validating.webhook.admission.k8s.io/round_0_index_0': 'down.a.example.com' });
    });
    await apply(webhookConfiguration('Validating', 'down-a', ns, [{ name: 'down.a.example.com', clientConfig: down, failurePolicy: 'Fail' }]));
    await eventually('the failing webhook', async () => {
      const error = await refusal(validatingWebhooks().validate(onDatabase()));
      assert.equal(error.code, 500);
      assert.match(error.message, /^Internal error occurred: failed calling webhook "down.a.example.com": failed to call webhook: Post "https:\/\/127\.0\.0\.1:\d+\/down\?timeout=5s": .*ECONNREFUSED/);
    });
    await kubectl.ok(['delete', 'validatingwebhookconfiguration', 'down-a']);
  });
});

describe('kubectl against Strongroom with the cluster’s policies', () => {
  const ns = 'admission-kubectl';
  const manifest = (name: string, spec = 'engine: postgres') =>
    `apiVersion: strongroom.dev/v1alpha1\nkind: Database\nmetadata:\n  name: ${name}\n  namespace: ${ns}\nspec:\n  ${spec}\n`;
  /** Applies a Database until the outcome stops changing: Strongroom's informers see new configuration a moment late. */
  const applyUntil = async (name: string, predicate: (r: { code: number; stdout: string; stderr: string }) => boolean, spec?: string) => {
    let last = { code: 0, stdout: '', stderr: '' };
    await eventually(`kubectl apply of ${name}`, async () => {
      last = await kubectl.run(['apply', '--dry-run=server', '-f', '-'], { input: manifest(name, spec) });
      assert.ok(predicate(last), `${last.stdout}${last.stderr}`);
    });
    return kubectl.run(['apply', '-f', '-'], { input: manifest(name, spec) });
  };

  before(() => kubectl.ok(['create', 'namespace', ns]));

  it('a policy denies a Database and kubectl shows its message', async () => {
    await apply(
      policy('schedule-b', ns, { validations: [{ expression: 'has(object.spec.backup) && has(object.spec.backup.schedule)', message: `no Database without a backup schedule in ${ns}` }] }),
      binding('schedule-b', 'schedule-b', { validationActions: ['Deny'] }),
    );
    const result = await applyUntil('unscheduled', (r) => r.code !== 0);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, new RegExp(`ValidatingAdmissionPolicy 'schedule-b' with binding 'schedule-b' denied request: no Database without a backup schedule in ${ns}`));
    const scheduled = await kubectl.run(['apply', '-f', '-'], { input: manifest('scheduled', 'engine: postgres\n  backup: {schedule: "0 3 * * *"}') });
    assert.equal(scheduled.code, 0, scheduled.stderr);
    await kubectl.ok(['delete', 'validatingadmissionpolicybinding', 'schedule-b']);
  });

  it('a Warn policy shows a warning', async () => {
    await apply(
      policy('replicas-b', ns, { validations: [{ expression: 'object.spec.replicas >= 2', message: 'one replica has no failover' }] }),
      binding('replicas-b', 'replicas-b', { validationActions: ['Warn'] }),
    );
    const result = await applyUntil('single', (r) => r.code === 0 && r.stderr.includes('Warning: Validation failed'));
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /Warning: Validation failed for ValidatingAdmissionPolicy 'replicas-b' with binding 'replicas-b': one replica has no failover/);
    await kubectl.ok(['delete', 'validatingadmissionpolicybinding', 'replicas-b']);
  });

  it('a validating webhook denies and a mutating webhook adds a label', async () => {
    webhooks.handle('/b/deny', (review) =>
      review.request.object.metadata.name === 'forbidden' ? { allowed: false, status: { code: 403, message: 'this name is taken' } } : { allowed: true },
    );
    webhooks.handle('/b/label', () => jsonPatch([{ op: 'add', path: '/metadata/labels', value: { owner: 'webhook' } }]));
    await apply(
      webhookConfiguration('Validating', 'names-b', ns, [{ name: 'names.b.example.com', clientConfig: { url: `${webhooks.url}/b/deny`, caBundle: webhooks.caBundle } }]),
      webhookConfiguration('Mutating', 'label-b', ns, [{ name: 'label.b.example.com', clientConfig: { url: `${webhooks.url}/b/label`, caBundle: webhooks.caBundle } }]),
    );
    const denied = await applyUntil('forbidden', (r) => r.code !== 0);
    assert.match(denied.stderr, /admission webhook "names.b.example.com" denied the request: this name is taken/);
    await applyUntil('labelled', (r) => r.code === 0 && (webhooks.received.get('/b/label')?.length ?? 0) > 0);
    assert.equal(await kubectl.ok(['get', 'database', 'labelled', '-n', ns, '-o', 'jsonpath={.metadata.labels.owner}']), 'webhook');
    await kubectl.ok(['delete', 'validatingwebhookconfiguration', 'names-b']);
    await kubectl.ok(['delete', 'mutatingwebhookconfiguration', 'label-b']);
  });

  it('failurePolicy Ignore lets a write through a webhook that is down; Fail refuses it with a clear Status', async () => {
    const down = { url: `https://127.0.0.1:${await closedPort()}/down`, caBundle: webhooks.caBundle };
    // Fail first: once it refuses, Strongroom has seen the configuration, so the write that then goes through under
    // Ignore went through the webhook's failure and not past a configuration not yet seen.
    await apply(webhookConfiguration('Validating', 'down-b', ns, [{ name: 'down.b.example.com', clientConfig: down, failurePolicy: 'Fail' }]));
    const refused = await applyUntil('refused', (r) => r.code !== 0);
    assert.match(refused.stderr, /Internal error occurred: failed calling webhook "down.b.example.com": failed to call webhook: Post "https:\/\/127\.0\.0\.1:\d+\/down\?timeout=5s"/);
    await apply(webhookConfiguration('Validating', 'down-b', ns, [{ name: 'down.b.example.com', clientConfig: down, failurePolicy: 'Ignore' }]));
    const through = await applyUntil('through', (r) => r.code === 0);
    assert.equal(through.code, 0, through.stderr);
    await kubectl.ok(['delete', 'validatingwebhookconfiguration', 'down-b']);
  });
});
