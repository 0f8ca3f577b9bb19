// The ValidatingAdmissionWebhook plugin for Strongroom's resources: every webhook of every
// ValidatingWebhookConfiguration that applies to the request, called in parallel; the first rejection (in
// configuration order) refuses the request. Webhooks that cannot be reached refuse it too under failurePolicy Fail
// (500 InternalError) and are skipped under Ignore.
import { randomUUID } from 'node:crypto';
import { internalError } from '../../api/errors.ts';
import type { Informer } from '../../controller/runtime/cache.ts';
import { admissionForbidden } from '../forbidden.ts';
import type { ValidatingAdmissionPlugin } from '../interface.ts';
import type { ValidatingWebhookConfiguration, Webhook } from '../registration.ts';
import { WebhookCallError, callWebhook } from './client.ts';
import { checkDryRun, reviewRequest, shouldCallWebhook, webhookDenial, type WebhookContext } from './invocation.ts';
import { webhooksOf } from '../matching/order.ts';

export const VALIDATING_PLUGIN_NAME = 'ValidatingAdmissionWebhook';
const FAILED_OPEN_PREFIX = 'failed-open.validating.webhook.admission.k8s.io/';

export function validatingWebhooks(configurations: Informer<ValidatingWebhookConfiguration>, context: WebhookContext): ValidatingAdmissionPlugin {
  return {
    name: VALIDATING_PLUGIN_NAME,
    handles: () => !configurations.hasSynced() || configurations.list().length > 0,

    async validate(a) {
      if (!configurations.hasSynced()) throw admissionForbidden(a, 'not yet ready to handle request');
      const request = reviewRequest(a, randomUUID());
      const relevant: Webhook[] = [];
      for (const { webhook } of webhooksOf(configurations.list())) {
        if (await shouldCallWebhook(webhook, a, context, request)) relevant.push(webhook);
      }
      const warnings: string[] = [];
      const auditAnnotations: Record<string, string> = {};
      const outcomes = await Promise.all(
        relevant.map(async (webhook, index) => {
          try {
            checkDryRun(webhook, a);
            const response = await callWebhook(webhook, request);
            warnings.push(...(response.warnings ?? []));
            for (const [key, value] of Object.entries(response.auditAnnotations ?? {})) auditAnnotations[`${webhook.name}/${key}`] = value;
            return response.allowed ? undefined : webhookDenial(webhook.name, response.status);
          } catch (error) {
            if (!(error instanceof WebhookCallError)) return error;
            if (webhook.failurePolicy === 'Ignore') {
              auditAnnotations[`${FAILED_OPEN_PREFIX}round_0_index_${index}`] = webhook.name;
              return undefined;
            }
            return internalError(error.message);
          }
        }),
      );
      const refusal = outcomes.find((outcome) => outcome !== undefined);
      if (refusal) throw refusal;
      return { warnings, auditAnnotations };
    },
  };
}
