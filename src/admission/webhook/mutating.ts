// The MutatingAdmissionWebhook plugin for Strongroom's resources: the webhooks of every MutatingWebhookConfiguration
// that apply, one after another, each seeing the object as the ones before left it and answering with a JSONPatch.
// Reinvocation as upstream: when a webhook changes the object, webhooks with `reinvocationPolicy: IfNeeded` that ran
// before that change run once more after the first round (a webhook is never run again for its own change).
import { randomUUID } from 'node:crypto';
import { StatusError, internalError } from '../../api/errors.ts';
import type { KubeObject } from '../../api/meta.ts';
import type { Informer } from '../../controller/runtime/cache.ts';
import { applyJsonPatch } from '../../registry/jsonpatch.ts';
import { admissionForbidden } from '../forbidden.ts';
import type { AdmissionAttributes, MutatingAdmissionPlugin } from '../interface.ts';
import type { MutatingWebhook, MutatingWebhookConfiguration } from '../registration.ts';
import { WebhookCallError, callWebhook } from './client.ts';
import { webhooksOf } from '../matching/order.ts';
import { checkDryRun, reviewRequest, shouldCallWebhook, webhookDenial, type WebhookContext } from './invocation.ts';

export const MUTATING_PLUGIN_NAME = 'MutatingAdmissionWebhook';
const FAILED_OPEN_PREFIX = 'failed-open.mutation.webhook.admission.k8s.io/';
const PATCH_PREFIX = 'patch.webhook.admission.k8s.io/';

interface Round {
  a: AdmissionAttributes;
  warnings: string[];
  auditAnnotations: Record<string, string>;
}

/** Calls one webhook; returns the patched object when the webhook changed it. */
async function mutate(webhook: MutatingWebhook, configuration: string, round: Round, key: string): Promise<KubeObject | undefined> {
  const { a } = round;
  checkDryRun(webhook, a);
  const response = await callWebhook(webhook, reviewRequest(a, randomUUID()));
  round.warnings.push(...(response.warnings ?? []));
  for (const [k, v] of Object.entries(response.auditAnnotations ?? {})) round.auditAnnotations[`${webhook.name}/${k}`] = v;
  if (!response.allowed) throw webhookDenial(webhook.name, response.status);
  if (response.patch === undefined) return undefined;
  if (response.patchType !== 'JSONPatch') {
    throw new WebhookCallError(webhook.name, `unsupported patch type ${JSON.stringify(response.patchType)}`);
  }
  let patch: unknown;
  try {
    patch = JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8'));
  } catch (error) {
    throw new WebhookCallError(webhook.name, `received undecodable patch in webhook response: ${(error as Error).message}`);
  }
  if (!Array.isArray(patch) || patch.length === 0) return undefined;
  if (!a.object) throw internalError(`admission webhook ${JSON.stringify(webhook.name)} attempted to modify the object, which is not supported for this operation`);
  let patched: KubeObject;
  try {
    patched = applyJsonPatch(structuredClone(a.object), patch);
  } catch (error) {
    throw internalError(error instanceof StatusError ? error.message : String(error));
  }
  round.auditAnnotations[`${PATCH_PREFIX}${key}`] = JSON.stringify({ configuration, webhook: webhook.name, patch, patchType: 'JSONPatch' });
  return JSON.stringify(patched) === JSON.stringify(a.object) ? undefined : patched;
}

export function mutatingWebhooks(configurations: Informer<MutatingWebhookConfiguration>, context: WebhookContext): MutatingAdmissionPlugin {
  return {
    name: MUTATING_PLUGIN_NAME,
    handles: () => !configurations.hasSynced() || configurations.list().length > 0,

    async admit(a) {
      if (!configurations.hasSynced()) throw admissionForbidden(a, 'not yet ready to handle request');
      const webhooks = webhooksOf(configurations.list());
      const round: Round = { a, warnings: [], auditAnnotations: {} };
      let changed = false;
      // upstream's webhookReinvokeContext: who ran since the last change, and who must run again
      let invokedSinceChange = new Set<number>();
      const reinvoke = new Set<number>();

      for (const roundIndex of [0, 1]) {
        if (roundIndex === 1 && reinvoke.size === 0) break;
        for (const [index, { configuration, webhook }] of webhooks.entries()) {
          if (roundIndex === 1 && !reinvoke.has(index)) continue;
          if (!(await shouldCallWebhook(webhook, round.a, context, reviewRequest(round.a, '')))) continue;
          let patched: KubeObject | undefined;
          try {
            patched = await mutate(webhook, configuration, round, `round_${roundIndex}_index_${index}`);
          } catch (error) {
            if (!(error instanceof WebhookCallError)) throw error;
            if (webhook.failurePolicy !== 'Ignore') throw internalError(error.message);
            round.auditAnnotations[`${FAILED_OPEN_PREFIX}round_${roundIndex}_index_${index}`] = webhook.name;
          }
          if (patched) {
            round.a = { ...round.a, object: patched };
            changed = true;
            if (roundIndex === 0) for (const earlier of invokedSinceChange) reinvoke.add(earlier);
            invokedSinceChange = new Set();
          }
          if (roundIndex === 0 && webhook.reinvocationPolicy === 'IfNeeded') invokedSinceChange.add(index);
        }
      }
      return { ...(changed ? { object: round.a.object } : {}), warnings: round.warnings, auditAnnotations: round.auditAnnotations };
    },
  };
}
