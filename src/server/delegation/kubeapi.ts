// How Strongroom calls kube-apiserver for delegation (reviews, namespace lookups): a deadline on every call, the
// retries k8s.io/apiserver's webhook clients make on transient failures, and errors that read well in a log line.
import { ApiException, Observable, type ConfigurationOptions, type RequestContext, type ResponseContext } from '@kubernetes/client-node';
import { retry, type RetryOptions } from '../../util/backoff.ts';

/** k8s.io/apiserver's delegated authentication and authorization client timeout. */
export const CALL_TIMEOUT_MS = 10_000;

/** Per-call options that abort the request after `ms` (the generated clients have no timeout of their own). */
export function withTimeout(ms: number = CALL_TIMEOUT_MS): ConfigurationOptions {
  return {
    middleware: [
      {
        pre: (request: RequestContext) => {
          request.setSignal(AbortSignal.timeout(ms));
          return new Observable(Promise.resolve(request));
        },
        post: (response: ResponseContext) => new Observable(Promise.resolve(response)),
      },
    ],
    middlewareMergeStrategy: 'append',
  };
}

/** `DefaultAuthWebhookRetryBackoff` of k8s.io/apiserver: 500 ms × 1.5, five attempts, 20 % jitter. */
export const WEBHOOK_RETRY: Omit<RetryOptions, 'retryable'> = { backoff: { initialMs: 500, factor: 1.5, jitter: 0.2 }, attempts: 5 };

/** Calls `call` until it succeeds, fails for good, or the attempts run out; the last error is thrown. */
export function retryTransient<T>(call: () => Promise<T>, options: Omit<RetryOptions, 'retryable'> = WEBHOOK_RETRY): Promise<T> {
  return retry(call, { ...options, retryable: isTransient });
}

/**
 * As k8s.io/apiserver's `DefaultShouldRetry`: a reset connection, 500, 504, 429, or any answer with Retry-After. A
 * refused connection or an expired deadline is not retried: the caller has waited long enough.
 */
export function isTransient(error: unknown): boolean {
  if (error instanceof ApiException) {
    return [429, 500, 504].includes(error.code) || Boolean(error.headers?.['retry-after']);
  }
  const cause = (error as { cause?: { code?: string } } | undefined)?.cause;
  return cause?.code === 'ECONNRESET';
}

/** The status code of a failed call, when kube-apiserver answered at all. */
export function statusCode(error: unknown): number | undefined {
  return error instanceof ApiException ? error.code : undefined;
}

/** `HTTP 403: <Status message>` for an answer, the message (and its cause) for a failure to get one. */
export function describeError(error: unknown): string {
  if (error instanceof ApiException) {
    const body: unknown = typeof error.body === 'string' ? parseJSON(error.body) : error.body;
    const message = (body as { message?: unknown } | undefined)?.message;
    return `HTTP ${error.code}: ${typeof message === 'string' ? message : String(error.body ?? 'no details')}`;
  }
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
    return `${error.message}${cause}`;
  }
  return String(error);
}

function parseJSON(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
