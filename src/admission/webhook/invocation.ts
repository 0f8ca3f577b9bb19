// What both webhook plugins do before and after calling a webhook (upstream's generic webhook ShouldCallHook and the
// dispatchers' shared steps): whether it applies to the request (rules, selectors, matchConditions), whether it may
// be called on a dry run, and how its rejection reads.
import { StatusError, badRequest } from '../../api/errors.ts';
import type { Status } from '../../api/meta.ts';
import type { Authorizer } from '../../server/authorization.ts';
import { authorizerFor } from '../cel/authorizer.ts';
import { CompileError, compile, type Program } from '../cel/environment.ts';
import { toCel } from '../cel/values.ts';
import { admissionForbidden } from '../forbidden.ts';
import type { AdmissionAttributes } from '../interface.ts';
import type { NamespaceLookup } from '../matching/namespaces.ts';
import { admissionRequest, type AdmissionRequest } from '../matching/request.ts';
import { ruleMatches } from '../matching/rules.ts';
import { selectorsMatch } from '../matching/selectors.ts';
import type { Webhook } from '../registration.ts';

/** What a webhook's matchConditions may read. */
const MATCH_CONDITION_VARIABLES = ['object', 'oldObject', 'request', 'authorizer'] as const;

/** What deciding whether to call a webhook needs besides the request. */
export interface WebhookContext {
  namespaces: NamespaceLookup;
  /** What `authorizer` checks in matchConditions ask. */
  authorizer?: Authorizer;
}

const compiledConditions = new WeakMap<Webhook, (Program | CompileError)[]>();

function conditionsOf(webhook: Webhook): (Program | CompileError)[] {
  let programs = compiledConditions.get(webhook);
  if (!programs) {
    programs = (webhook.matchConditions ?? []).map((c) => {
      try {
        return compile(c.expression, MATCH_CONDITION_VARIABLES, 'bool');
      } catch (error) {
        if (error instanceof CompileError) return error;
        throw error;
      }
    });
    compiledConditions.set(webhook, programs);
  }
  return programs;
}

/**
 * Whether `webhook` applies to the request: a rule covers it, its selectors select it, and no matchCondition is
 * false. Conditions that fail to evaluate refuse the request (403) under failurePolicy Fail and skip the webhook
 * under Ignore, as upstream decides.
 */
export async function shouldCallWebhook(webhook: Webhook, a: AdmissionAttributes, context: WebhookContext, request: AdmissionRequest): Promise<boolean> {
  if (!(webhook.rules ?? []).some((rule) => ruleMatches(rule, a))) return false;
  if (!(await selectorsMatch(webhook, a, context.namespaces))) return false;
  const programs = conditionsOf(webhook);
  if (programs.length === 0) return true;
  const { object: _o, oldObject: _old, ...rest } = request;
  const activation = {
    object: toCel(a.operation === 'DELETE' ? null : a.object ?? null),
    oldObject: toCel(a.oldObject ?? null),
    request: toCel(rest),
    authorizer: authorizerFor(a, context.authorizer),
  };
  const errors: string[] = [];
  for (const program of programs) {
    try {
      if (program instanceof CompileError) throw program;
      if ((await program.evaluate(activation)) === false) return false;
    } catch (error) {
      errors.push((error as Error).message);
    }
  }
  if (errors.length === 0) return true;
  if (webhook.failurePolicy === 'Ignore') return false;
  throw admissionForbidden(a, errors.length === 1 ? errors[0]! : `[${errors.join(', ')}]`);
}

/** A dry run may only reach webhooks that declare they have no side effects on one; others refuse the request. */
export function checkDryRun(webhook: Webhook, a: AdmissionAttributes): void {
  if (!a.dryRun) return;
  if (webhook.sideEffects !== 'None' && webhook.sideEffects !== 'NoneOnDryRun') {
    throw badRequest(`admission webhook ${JSON.stringify(webhook.name)} does not support dry run`);
  }
}

/** The request as the webhook sees it (with its objects). */
export function reviewRequest(a: AdmissionAttributes, uid: string): AdmissionRequest {
  return admissionRequest(a, uid, true);
}

/** A webhook's "no" as the client gets it (upstream's ToStatusErr): at least 400, the webhook's own Status otherwise. */
export function webhookDenial(webhook: string, result: Partial<Status> | undefined): StatusError {
  const deniedBy = `admission webhook ${JSON.stringify(webhook)} denied the request`;
  const code = result?.code && result.code >= 400 ? result.code : 400;
  const message = result?.message ? `${deniedBy}: ${result.message}` : result?.reason ? `${deniedBy}: ${result.reason}` : `${deniedBy} without explanation`;
  return new StatusError(code, result?.reason ?? '', message, result?.details);
}
