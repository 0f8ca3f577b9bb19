import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { mutatingWebhooks } from '../../src/admission/webhook/mutating.ts';
import { validatingWebhooks } from '../../src/admission/webhook/validating.ts';
import type { MutatingWebhook, MutatingWebhookConfiguration, ValidatingWebhookConfiguration, Webhook } from '../../src/admission/registration.ts';
import { attributes, cacheOf, database, namespaces, refusal } from './fixtures.ts';
import { closedPort, jsonPatch, startWebhookServer, type WebhookServer } from './webhookserver.ts';

let server: WebhookServer;
before(async () => {
  server = await startWebhookServer();
});
after(() => server.stop());

const RULES: Webhook['rules'] = [{ apiGroups: ['strongroom.dev'], apiVersions: ['v1alpha1'], resources: ['databases'], operations: ['CREATE', 'UPDATE'] }];

function hook(name: string, path: string, extra: Partial<MutatingWebhook> = {}): MutatingWebhook {
  return {
    name,
    clientConfig: { url: `${server.url}${path}`, caBundle: server.caBundle },
    rules: RULES,
    sideEffects: 'None',
    admissionReviewVersions: ['v1'],
    failurePolicy: 'Fail',
    ...extra,
  };
}

const validating = (...webhooks: Webhook[]) =>
  validatingWebhooks(
    cacheOf<ValidatingWebhookConfiguration>([{ apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingWebhookConfiguration', metadata: { name: 'test' }, webhooks }]),
    { namespaces },
  );
const mutating = (...webhooks: MutatingWebhook[]) =>
  mutatingWebhooks(
    cacheOf<MutatingWebhookConfiguration>([{ apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingWebhookConfiguration', metadata: { name: 'test' }, webhooks }]),
    { namespaces },
  );



describe('validating admission webhooks', () => {
  it('sends an AdmissionReview v1 and passes on warnings and audit annotations', async () => {
    server.handle('/allow', () => ({ allowed: true, warnings: ['looks fine'], auditAnnotations: { checked: 'yes' } }));
    const result = await validating(hook('allow.example.com', '/allow')).validate(attributes());
    assert.deepEqual(result, { warnings: ['looks fine'], auditAnnotations: { 'allow.example.com/checked': 'yes' } });
    const { apiVersion, kind, request } = server.received.get('/allow')!.at(-1)!;
    assert.equal(`${apiVersion}/${kind}`, 'admission.k8s.io/v1/AdmissionReview');
    assert.match(request.uid, /^[0-9a-f-]{36}$/);
    assert.deepEqual(
      { kind: request.kind, resource: request.resource, name: request.name, namespace: request.namespace, operation: request.operation, dryRun: request.dryRun },
      {
        kind: { group: 'strongroom.dev', version: 'v1alpha1', kind: 'Database' },
        resource: { group: 'strongroom.dev', version: 'v1alpha1', resource: 'databases' },
        name: 'orders',
        namespace: 'prod',
        operation: 'CREATE',
        dryRun: false,
      },
    );
    assert.equal(request.userInfo.username, 'alice');
    assert.deepEqual(request.object, database());
  });

  it("refuses with the webhook's Status and upstream's message", async () => {
    server.handle('/deny', () => ({ allowed: false, status: { code: 403, reason: 'Forbidden', message: 'no databases on Fridays' } }));
    const error = await refusal(validating(hook('deny.example.com', '/deny')).validate(attributes()));
    assert.equal(error.code, 403);
    assert.equal(error.reason, 'Forbidden');
    assert.equal(error.message, 'admission webhook "deny.example.com" denied the request: no databases on Fridays');

    server.handle('/deny-bare', () => ({ allowed: false }));
    const bare = await refusal(validating(hook('bare.example.com', '/deny-bare')).validate(attributes()));
    assert.equal(bare.code, 400);
    assert.equal(bare.message, 'admission webhook "bare.example.com" denied the request without explanation');
  });

  it('lets the request through a webhook that is down under Ignore and refuses it under Fail', async () => {
    const down = { clientConfig: { url: `https://127.0.0.1:${await closedPort()}/validate`, caBundle: server.caBundle } };
    const ignored = await validating(hook('down.example.com', '/', { ...down, failurePolicy: 'Ignore' })).validate(attributes());
    assert.deepEqual(ignored.auditAnnotations, { 'failed-open.validating.webhook.admission.k8s.io/round_0_index_0': 'down.example.com' });
    const error = await refusal(validating(hook('down.example.com', '/', down)).validate(attributes()));
    assert.equal(error.code, 500);
    assert.equal(error.reason, 'InternalError');
    assert.match(error.message, /^Internal error occurred: failed calling webhook "down.example.com": failed to call webhook: Post "https:\/\/127\.0\.0\.1:\d+\/validate\?timeout=10s": .*ECONNREFUSED/);
  });

  it('does not trust a server whose certificate the caBundle does not sign', async () => {
    server.handle('/allow', () => ({ allowed: true }));
    const untrusted = hook('untrusted.example.com', '/allow', { clientConfig: { url: `${server.url}/allow` } });
    const error = await refusal(validating(untrusted).validate(attributes()));
    assert.match(error.message, /failed calling webhook "untrusted.example.com": failed to call webhook: .*certificate/);
  });

  it('gives up on a webhook after timeoutSeconds', async () => {
    server.handle('/hang', () => undefined);
    const error = await refusal(validating(hook('slow.example.com', '/hang', { timeoutSeconds: 1 })).validate(attributes()));
    assert.match(error.message, /failed calling webhook "slow.example.com": failed to call webhook: Post "[^"]+\?timeout=1s": context deadline exceeded/);
  });

  it('refuses a dry run for webhooks with side effects, without calling them', async () => {
    server.handle('/side-effects', () => ({ allowed: true }));
    const dryRun = attributes({ dryRun: true });
    const error = await refusal(validating(hook('effects.example.com', '/side-effects', { sideEffects: 'Some' })).validate(dryRun));
    assert.equal(error.code, 400);
    assert.equal(error.message, 'admission webhook "effects.example.com" does not support dry run');
    assert.equal(server.received.get('/side-effects'), undefined);
    await validating(hook('none.example.com', '/side-effects', { sideEffects: 'NoneOnDryRun' })).validate(dryRun);
    assert.equal(server.received.get('/side-effects')!.at(-1)!.request.dryRun, true);
  });

  it('calls only webhooks whose rules, selectors and matchConditions select the request', async () => {
    let calls = 0;
    server.handle('/count', () => (calls++, { allowed: true }));
    const variants: Partial<MutatingWebhook>[] = [
      { rules: [{ ...RULES[0]!, operations: ['DELETE'] }] },
      { rules: [{ ...RULES[0]!, resources: ['backups'] }] },
      { namespaceSelector: { matchLabels: { env: 'dev' } } },
      { objectSelector: { matchLabels: { tier: 'gold' } } },
      { matchConditions: [{ name: 'not-alice', expression: "request.userInfo.username != 'alice'" }] },
      { matchConditions: [{ name: 'big', expression: 'object.spec.replicas > 3' }] },
    ];
    for (const variant of variants) await validating(hook('count.example.com', '/count', variant)).validate(attributes());
    assert.equal(calls, 0);
    await validating(hook('count.example.com', '/count', { namespaceSelector: { matchLabels: { env: 'prod' } } })).validate(attributes());
    assert.equal(calls, 1);
  });

  it('refuses the request when a matchCondition fails under Fail, and skips the webhook under Ignore', async () => {
    server.handle('/count', () => ({ allowed: true }));
    const conditions = { matchConditions: [{ name: 'broken', expression: 'object.spec.backup.schedule == ""' }] };
    const error = await refusal(validating(hook('cond.example.com', '/count', conditions)).validate(attributes()));
    assert.equal(error.code, 403);
    assert.match(error.message, /^databases.strongroom.dev "orders" is forbidden: expression 'object.spec.backup.schedule == ""' resulted in error: /);
    await validating(hook('cond.example.com', '/count', { ...conditions, failurePolicy: 'Ignore' })).validate(attributes());
  });
});

describe('mutating admission webhooks', () => {
  it('applies the JSONPatch a webhook answers', async () => {
    server.handle('/label', () => jsonPatch([{ op: 'add', path: '/metadata/labels/team', value: 'shop' }]));
    const result = await mutating(hook('label.example.com', '/label')).admit(attributes());
    assert.deepEqual(result.object?.metadata.labels, { team: 'shop' });
    assert.ok(result.auditAnnotations?.['patch.webhook.admission.k8s.io/round_0_index_0']);
  });

  it('reinvokes IfNeeded webhooks that ran before a later change, once', async () => {
    const calls: string[] = [];
    server.handle('/first', (review) => {
      calls.push(`first:${Object.keys(review.request.object.metadata.labels ?? {}).join(',')}`);
      return { allowed: true };
    });
    server.handle('/second', (review) => {
      calls.push('second');
      return review.request.object.metadata.labels?.second ? { allowed: true } : jsonPatch([{ op: 'add', path: '/metadata/labels', value: { second: 'yes' } }]);
    });
    const result = await mutating(hook('first.example.com', '/first', { reinvocationPolicy: 'IfNeeded' }), hook('second.example.com', '/second')).admit(attributes());
    assert.deepEqual(calls, ['first:', 'second', 'first:second']);
    assert.deepEqual(result.object?.metadata.labels, { second: 'yes' });

    calls.length = 0;
    await mutating(hook('first.example.com', '/first', { reinvocationPolicy: 'Never' }), hook('second.example.com', '/second')).admit(attributes());
    assert.deepEqual(calls, ['first:', 'second']);
  });

  it('refuses a patch type other than JSONPatch as a failed call', async () => {
    server.handle('/odd', () => ({ allowed: true, patchType: 'MergePatch', patch: Buffer.from('{}').toString('base64') }));
    const error = await refusal(mutating(hook('odd.example.com', '/odd')).admit(attributes()));
    assert.equal(error.code, 500);
    assert.match(error.message, /failed calling webhook "odd.example.com": unsupported patch type "MergePatch"/);
    const ignored = await mutating(hook('odd.example.com', '/odd', { failurePolicy: 'Ignore' })).admit(attributes());
    assert.equal(ignored.object, undefined);
  });
});
