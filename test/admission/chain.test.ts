// The chain runs the mutating plugins that handle a request in order, each seeing the object the one before
// answered, then the validating ones; warnings come back in that order, audit annotations go to the sink.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Admission, concatChains } from '../../src/admission/chain.ts';
import type { AdmissionAttributes, MutatingAdmissionPlugin, ValidatingAdmissionPlugin } from '../../src/admission/interface.ts';
import { forbidden } from '../../src/api/errors.ts';
import type { KubeObject } from '../../src/api/meta.ts';
import { attributes } from './attributes.ts';

const object = (labels: Record<string, string> = {}): KubeObject => ({ apiVersion: 'strongroom.dev/v1alpha1', kind: 'Database', metadata: { name: 'orders', labels } });

function labeller(key: string, handles = true): MutatingAdmissionPlugin {
  return {
    name: `label-${key}`,
    handles: () => handles,
    async admit(a) {
      const seen = Object.keys(a.object!.metadata.labels ?? {}).join(',');
      return { object: { ...a.object!, metadata: { ...a.object!.metadata, labels: { ...a.object!.metadata.labels, [key]: seen } } }, warnings: [`${key} saw [${seen}]`] };
    },
  };
}

function validator(name: string, seen: Array<[string, AdmissionAttributes]>, refuse = false): ValidatingAdmissionPlugin {
  return {
    name,
    handles: (a) => a.operation !== 'CONNECT',
    async validate(a) {
      seen.push([name, a]);
      if (refuse) throw forbidden(a.resource, a.name, `${name} says no`);
      return { warnings: [`${name} ok`], auditAnnotations: { [`${name}/checked`]: 'true' } };
    },
  };
}

describe('Admission', () => {
  it('runs mutating plugins in order, each on the previous answer, skipping those that do not handle the request', async () => {
    const admission = new Admission({ mutating: [labeller('a'), labeller('skipped', false), labeller('b')], validating: [] });
    const outcome = await admission.mutate(attributes({ object: object() }));
    assert.deepEqual(outcome.object!.metadata.labels, { a: '', b: 'a' });
    assert.deepEqual(outcome.warnings, ['a saw []', 'b saw [a]']);
  });

  it('answers the object it was given when no plugin mutates', async () => {
    const given = object();
    assert.equal((await new Admission().mutate(attributes({ object: given }))).object, given);
  });

  it('runs every validating plugin that handles the request and sends their audit annotations to the sink', async () => {
    const seen: Array<[string, AdmissionAttributes]> = [];
    const audited: Array<Record<string, string>> = [];
    const admission = new Admission({ mutating: [], validating: [validator('v1', seen), validator('v2', seen)] }, (_a, annotations) => audited.push(annotations));
    assert.deepEqual(await admission.validate(attributes({ object: object() })), ['v1 ok', 'v2 ok']);
    assert.deepEqual(seen.map(([name]) => name), ['v1', 'v2']);
    assert.deepEqual(audited, [{ 'v1/checked': 'true' }, { 'v2/checked': 'true' }]);
    assert.deepEqual(await admission.validate(attributes({ operation: 'CONNECT' })), []);
  });

  it('stops at the first refusal and throws it as the plugin made it', async () => {
    const seen: Array<[string, AdmissionAttributes]> = [];
    const admission = new Admission({ mutating: [], validating: [validator('no', seen, true), validator('after', seen)] });
    await assert.rejects(admission.validate(attributes({ object: object() })), { code: 403, message: 'no says no' });
    assert.deepEqual(seen.map(([name]) => name), ['no']);
  });

  it('concatChains keeps each kind in the order given', () => {
    const a = labeller('a');
    const b = labeller('b');
    const v = validator('v', []);
    const chain = concatChains({ mutating: [a] }, undefined, { validating: [v] }, { mutating: [b] });
    assert.deepEqual(chain.mutating, [a, b]);
    assert.deepEqual(chain.validating, [v]);
  });
});
