import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeObject } from '../../src/api/meta.ts';
import { ObjectCache } from '../../src/controller/runtime/cache.ts';
import type { ParamSource } from '../../src/admission/policy/params.ts';
import { validatingAdmissionPolicy } from '../../src/admission/policy/plugin.ts';
import type { ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding } from '../../src/admission/registration.ts';
import { attributes, cacheOf, database, namespaces, refusal } from './fixtures.ts';

const DATABASES = {
  resourceRules: [{ apiGroups: ['strongroom.dev'], apiVersions: ['*'], resources: ['databases'], operations: ['CREATE' as const, 'UPDATE' as const] }],
};

function policy(name: string, spec: Partial<ValidatingAdmissionPolicy['spec']>): ValidatingAdmissionPolicy {
  return { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingAdmissionPolicy', metadata: { name }, spec: { matchConstraints: DATABASES, ...spec } };
}

function binding(name: string, policyName: string, spec: Partial<ValidatingAdmissionPolicyBinding['spec']> = {}): ValidatingAdmissionPolicyBinding {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicyBinding',
    metadata: { name },
    spec: { policyName, validationActions: ['Deny'], ...spec },
  };
}

/** Params from a fixed set of ConfigMaps, looked up by paramRef as params.ts does against the cluster. */
function configMaps(items: KubeObject[]): ParamSource {
  return {
    async collect(kind, ref, namespace) {
      if (!kind || !ref) return [null];
      const found = items.filter((c) => c.metadata.namespace === (ref.namespace || namespace) && (!ref.name || c.metadata.name === ref.name));
      if (found.length === 0 && ref.parameterNotFoundAction === 'Deny') throw new Error('no params found for policy binding with `Deny` parameterNotFoundAction');
      return found;
    },
    async stop() {},
  };
}

function plugin(policies: ValidatingAdmissionPolicy[], bindings: ValidatingAdmissionPolicyBinding[], params: ParamSource = configMaps([])) {
  return validatingAdmissionPolicy({ policies: cacheOf(policies), bindings: cacheOf(bindings), namespaces, params });
}


const needsSchedule = policy('backup-schedule', {
  validations: [{ expression: 'has(object.spec.backup) && has(object.spec.backup.schedule)', message: 'a Database needs a backup schedule' }],
});

describe('ValidatingAdmissionPolicy', () => {
  it('denies with 422 Invalid and the upstream message', async () => {
    const error = await refusal(plugin([needsSchedule], [binding('prod-backups', 'backup-schedule')]).validate(attributes()));
    const message = "ValidatingAdmissionPolicy 'backup-schedule' with binding 'prod-backups' denied request: a Database needs a backup schedule";
    assert.equal(error.code, 422);
    assert.equal(error.reason, 'Invalid');
    assert.equal(error.message, `databases.strongroom.dev "orders" is forbidden: ${message}`);
    assert.deepEqual(error.details, { name: 'orders', group: 'strongroom.dev', kind: 'databases', causes: [{ message }] });
  });

  it('admits what passes, and what no binding puts in force', async () => {
    const ok = attributes({ object: database('orders', { backup: { schedule: '0 3 * * *' } }) });
    assert.deepEqual(await plugin([needsSchedule], [binding('b', 'backup-schedule')]).validate(ok), { warnings: [], auditAnnotations: {} });
    await plugin([needsSchedule], [binding('b', 'another-policy')]).validate(attributes());
  });

  it('warns and audits instead of denying when the binding says so', async () => {
    const result = await plugin([needsSchedule], [binding('b', 'backup-schedule', { validationActions: ['Warn', 'Audit'] })]).validate(attributes());
    assert.deepEqual(result.warnings, [
      "Validation failed for ValidatingAdmissionPolicy 'backup-schedule' with binding 'b': a Database needs a backup schedule",
    ]);
    assert.deepEqual(JSON.parse(result.auditAnnotations!['validation.policy.admission.k8s.io/validation_failure']!), [
      { message: 'a Database needs a backup schedule', policy: 'backup-schedule', binding: 'b', expressionIndex: 0, validationActions: ['Warn', 'Audit'] },
    ]);
  });

  it('takes the reason and the messageExpression of the validation, and falls back to the expression', async () => {
    const p = policy('replicas', {
      variables: [{ name: 'limit', expression: '3' }],
      validations: [
        { expression: 'object.spec.replicas <= variables.limit', messageExpression: "'replicas must be at most ' + string(variables.limit)", reason: 'Forbidden' },
      ],
    });
    const error = await refusal(plugin([p], [binding('b', 'replicas')]).validate(attributes({ object: database('orders', { replicas: 5 }) })));
    assert.equal(error.code, 403);
    assert.equal(error.reason, 'Forbidden');
    assert.match(error.message, /denied request: replicas must be at most 3$/);

    const bare = policy('bare', { validations: [{ expression: ' object.spec.replicas < 2 ' }] });
    const fallback = await refusal(plugin([bare], [binding('b', 'bare')]).validate(attributes({ object: database('orders', { replicas: 5 }) })));
    assert.match(fallback.message, /denied request: failed expression: object.spec.replicas < 2$/);
  });

  it('matches by operation, resource name, excludes, scope and selectors', async () => {
    const denyAll = (matchConstraints: ValidatingAdmissionPolicy['spec']['matchConstraints']) =>
      plugin([policy('p', { matchConstraints, validations: [{ expression: 'false', message: 'no' }] })], [binding('b', 'p')]);
    const rule = DATABASES.resourceRules[0]!;
    const applies = async (m: ValidatingAdmissionPolicy['spec']['matchConstraints'], a = attributes()) => {
      try {
        await denyAll(m).validate(a);
        return false;
      } catch {
        return true;
      }
    };
    assert.equal(await applies(DATABASES), true);
    assert.equal(await applies(DATABASES, attributes({ operation: 'DELETE', object: undefined, oldObject: database() })), false);
    assert.equal(await applies({ resourceRules: [{ ...rule, resourceNames: ['other'] }] }), false);
    assert.equal(await applies({ resourceRules: [{ ...rule, resourceNames: ['orders'] }] }), true);
    assert.equal(await applies({ ...DATABASES, excludeResourceRules: [{ ...rule, resourceNames: ['orders'] }] }), false);
    assert.equal(await applies({ resourceRules: [{ ...rule, scope: 'Cluster' }] }), false);
    assert.equal(await applies({ resourceRules: [{ ...rule, resources: ['databases/status'] }] }), false);
    assert.equal(await applies({ resourceRules: [{ ...rule, resources: ['*/*'] }] }, attributes({ subresource: 'status' })), true);
    assert.equal(await applies({ resourceRules: [{ ...rule, resources: ['*'] }] }, attributes({ subresource: 'status' })), false);
    assert.equal(await applies({ ...DATABASES, namespaceSelector: { matchLabels: { env: 'prod' } } }), true);
    assert.equal(await applies({ ...DATABASES, namespaceSelector: { matchExpressions: [{ key: 'env', operator: 'NotIn', values: ['prod'] }] } }), false);
    assert.equal(await applies({ ...DATABASES, objectSelector: { matchExpressions: [{ key: 'tier', operator: 'Exists' }] } }), false);
    const gold = attributes({ object: database('orders', {}, { tier: 'gold' }) });
    assert.equal(await applies({ ...DATABASES, objectSelector: { matchLabels: { tier: 'gold' } } }, gold), true);
  });

  it('applies a binding only where its matchResources and the matchConditions say', async () => {
    const p = policy('p', {
      matchConditions: [{ name: 'not-alice', expression: "request.userInfo.username != 'alice'" }],
      validations: [{ expression: 'false', message: 'no' }],
    });
    await plugin([p], [binding('b', 'p')]).validate(attributes());
    const q = policy('q', { validations: [{ expression: 'false', message: 'no' }] });
    const devOnly = binding('b', 'q', { matchResources: { namespaceSelector: { matchLabels: { env: 'dev' } } } });
    await plugin([q], [devOnly]).validate(attributes());
    await refusal(plugin([q], [devOnly]).validate(attributes({ object: { ...database(), metadata: { name: 'x', namespace: 'dev' } } })));
  });

  it('reads params, namespaceObject, oldObject and request', async () => {
    const p = policy('engines', {
      paramKind: { apiVersion: 'v1', kind: 'ConfigMap' },
      validations: [
        { expression: 'object.spec.engine in params.data.allowed.split(",")', messageExpression: "'engine ' + object.spec.engine + ' is not allowed in ' + namespaceObject.metadata.name" },
        { expression: "oldObject == null || oldObject.spec.engine == object.spec.engine || request.operation != 'UPDATE'", message: 'the engine is immutable' },
      ],
    });
    const params = configMaps([{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'engines', namespace: 'prod' }, data: { allowed: 'postgres,redis' } }]);
    const bound = binding('b', 'engines', { paramRef: { name: 'engines', parameterNotFoundAction: 'Deny' } });
    await plugin([p], [bound], params).validate(attributes());
    const etcd = await refusal(plugin([p], [bound], params).validate(attributes({ object: database('orders', { engine: 'etcd' }) })));
    assert.match(etcd.message, /denied request: engine etcd is not allowed in prod$/);
    const update = attributes({ operation: 'UPDATE', object: database('orders', { engine: 'redis' }), oldObject: database() });
    assert.match((await refusal(plugin([p], [bound], params).validate(update))).message, /the engine is immutable$/);

    const missing = binding('b', 'engines', { paramRef: { name: 'nope', parameterNotFoundAction: 'Deny' } });
    const error = await refusal(plugin([p], [missing], params).validate(attributes()));
    assert.match(error.message, /with binding 'b' denied request: failed to configure binding: no params found/);
    // Allow with no param: nothing to validate against.
    await plugin([p], [binding('b', 'engines', { paramRef: { name: 'nope', parameterNotFoundAction: 'Allow' } })], params).validate(attributes());
  });

  it('fails closed on errors under failurePolicy Fail and open under Ignore', async () => {
    const broken = (failurePolicy: 'Fail' | 'Ignore') =>
      policy('broken', { failurePolicy, validations: [{ expression: 'object.spec.backup.schedule != ""' }, { expression: 'object.spec.(' }] });
    const error = await refusal(plugin([broken('Fail')], [binding('b', 'broken')]).validate(attributes()));
    assert.match(error.message, /denied request: expression 'object.spec.backup.schedule != ""' resulted in error: /);
    await plugin([broken('Ignore')], [binding('b', 'broken')]).validate(attributes());
  });

  it('publishes auditAnnotations under the policy name', async () => {
    const p = policy('audit', { validations: [{ expression: 'true' }], auditAnnotations: [{ key: 'engine', valueExpression: "'engine is ' + object.spec.engine" }] });
    const result = await plugin([p], [binding('a', 'audit'), binding('b', 'audit')]).validate(attributes());
    assert.deepEqual(result.auditAnnotations, { 'audit/engine': 'engine is postgres' });
  });

  it('refuses requests until its caches are filled', async () => {
    const empty = validatingAdmissionPolicy({ policies: new ObjectCache(), bindings: new ObjectCache(), namespaces, params: configMaps([]) });
    assert.equal(empty.handles(attributes()), true);
    const error = await refusal(empty.validate(attributes()));
    assert.equal(error.code, 403);
    assert.equal(error.message, 'databases.strongroom.dev "orders" is forbidden: not yet ready to handle request');
  });
});
