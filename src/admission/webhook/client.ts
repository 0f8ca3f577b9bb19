// Calling one admission webhook: an AdmissionReview v1 POSTed over HTTPS to its `url`, or to its `service` by the
// Service's cluster DNS name, trusting the `caBundle` (else the system's roots), within `timeoutSeconds`. The answer
// must be an AdmissionReview v1 carrying the request's uid, as upstream's VerifyAdmissionResponse requires.
import { request as httpsRequest } from 'node:https';
import type { Status } from '../../api/meta.ts';
import type { AdmissionRequest } from '../matching/request.ts';
import type { Webhook, WebhookClientConfig } from '../registration.ts';

/** The v1 default of `timeoutSeconds`. */
const DEFAULT_TIMEOUT_SECONDS = 10;
/** Larger answers are refused rather than buffered (upstream's limit on webhook responses is of this order). */
const MAX_RESPONSE_BYTES = 3 * 1024 * 1024;

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: Partial<Status>;
  patch?: string;
  patchType?: string;
  warnings?: string[];
  auditAnnotations?: Record<string, string>;
}

/**
 * A webhook could not be asked or answered nonsense (upstream's ErrCallingWebhook): its failurePolicy decides
 * whether the request goes on. The message is `failed calling webhook "NAME": <why>`.
 */
export class WebhookCallError extends Error {
  constructor(webhook: string, why: string) {
    super(`failed calling webhook ${JSON.stringify(webhook)}: ${why}`);
    this.name = 'WebhookCallError';
  }
}

/** Where the webhook listens: its URL, or its Service's DNS name inside the cluster. */
export function webhookURL(config: WebhookClientConfig): URL {
  if (config.url) return new URL(config.url);
  const service = config.service;
  if (!service) throw new Error('webhook clientConfig has neither url nor service');
  return new URL(`https://${service.name}.${service.namespace}.svc:${service.port ?? 443}${service.path ?? ''}`);
}

function post(url: URL, body: string, ca: string | undefined, timeoutMs: number): Promise<{ status: number; text: string }> {
  const signal = AbortSignal.timeout(timeoutMs);
  return new Promise((resolve, reject) => {
    const request = httpsRequest(
      url,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', 'content-length': Buffer.byteLength(body) },
        ...(ca ? { ca } : {}),
        signal,
      },
      (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_RESPONSE_BYTES) request.destroy(new Error(`response larger than ${MAX_RESPONSE_BYTES} bytes`));
          else chunks.push(chunk);
        });
        response.on('end', () => resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        response.on('error', reject);
      },
    );
    // An aborted request fails with a generic AbortError; the signal's reason says it was the deadline.
    request.on('error', (error) => reject(signal.aborted ? signal.reason : error));
    request.end(body);
  });
}

/** Sends the review and returns the verified response; throws WebhookCallError for every failure. */
export async function callWebhook(webhook: Webhook, request: AdmissionRequest): Promise<AdmissionResponse> {
  const fail = (why: string) => new WebhookCallError(webhook.name, why);
  if (webhook.admissionReviewVersions && !webhook.admissionReviewVersions.includes('v1')) {
    throw fail(`webhook does not accept known AdmissionReview versions: ${webhook.admissionReviewVersions.join(', ')}`);
  }
  const timeoutSeconds = webhook.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;
  let url: URL;
  try {
    url = webhookURL(webhook.clientConfig);
  } catch (error) {
    throw fail(`could not get REST client: ${(error as Error).message}`);
  }
  // Tells the webhook how long it has, as client-go's request timeout parameter does.
  url.searchParams.set('timeout', `${timeoutSeconds}s`);
  const ca = webhook.clientConfig.caBundle ? Buffer.from(webhook.clientConfig.caBundle, 'base64').toString('utf8') : undefined;
  const body = JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request });

  let answer: { status: number; text: string };
  try {
    answer = await post(url, body, ca, timeoutSeconds * 1000);
  } catch (error) {
    const why = error instanceof Error && error.name === 'TimeoutError' ? `context deadline exceeded after ${timeoutSeconds}s` : (error as Error).message;
    throw fail(`failed to call webhook: Post "${url}": ${why}`);
  }
  if (answer.status < 200 || answer.status > 299) {
    throw fail(`failed to call webhook: the server responded with the status code ${answer.status}: ${answer.text.trim().slice(0, 500)}`);
  }
  let review: { apiVersion?: string; kind?: string; response?: AdmissionResponse };
  try {
    review = JSON.parse(answer.text);
  } catch (error) {
    throw fail(`received invalid webhook response: ${(error as Error).message}`);
  }
  if (review.apiVersion !== 'admission.k8s.io/v1' || review.kind !== 'AdmissionReview') {
    throw fail(`received invalid webhook response: expected webhook response of admission.k8s.io/v1, Kind=AdmissionReview, got ${review.apiVersion}, Kind=${review.kind}`);
  }
  const response = review.response;
  if (!response) throw fail('received invalid webhook response: webhook response was absent');
  if (response.uid !== request.uid) {
    throw fail(`received invalid webhook response: expected response.uid=${JSON.stringify(request.uid)}, actual response.uid=${JSON.stringify(response.uid)}`);
  }
  if (response.patch !== undefined && response.patchType === undefined) {
    throw fail('received invalid webhook response: webhook returned response.patch but not response.patchType');
  }
  return response;
}
