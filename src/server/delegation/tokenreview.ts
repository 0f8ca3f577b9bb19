// Bearer tokens, checked by kube-apiserver through a TokenReview (checklist §7.4): the token of a ServiceAccount, an
// OIDC user, anything the cluster itself accepts. Answers are remembered briefly so a client's burst of requests
// costs one review; they are keyed by a hash, so no token is kept in memory longer than its request needs.
import { createHash } from 'node:crypto';
import { AuthenticationV1Api, type KubeConfig } from '@kubernetes/client-node';
import { LRUCache } from 'lru-cache';
import type { Authenticator, UserInfo } from '../authentication.ts';
import { retryTransient, withTimeout } from './kubeapi.ts';

export interface TokenReviewResult {
  /** The user when the token is valid. */
  user?: UserInfo;
  /** Why it is not, when the cluster says so. */
  error?: string;
}

/** Asks the cluster about one token; throws when it cannot get an answer. */
export type TokenReviewer = (token: string) => Promise<TokenReviewResult>;

export function tokenReviewer(kubeConfig: KubeConfig): TokenReviewer {
  const api = kubeConfig.makeApiClient(AuthenticationV1Api);
  return async (token) => {
    // No audiences: the cluster checks the token against its own, as k8s.io/apiserver does by default.
    const review = await retryTransient(() =>
      api.createTokenReview({ body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } } }, withTimeout()),
    );
    const status = review.status;
    if (!status?.authenticated || !status.user?.username) return { error: status?.error || undefined };
    const { username, uid, groups = [], extra = {} } = status.user;
    return { user: { name: username, ...(uid ? { uid } : {}), groups, extra } };
  };
}

export interface TokenCacheOptions {
  /** Default 10 s, k8s.io/apiserver's `--authentication-token-webhook-cache-ttl` for delegated authentication. */
  successTTLMs?: number;
  /** Shorter: a token that failed because it was not yet known (just minted, clock skew) should not stay refused. */
  failureTTLMs?: number;
  /** Oldest entries are dropped beyond this. Default 4096. */
  maxEntries?: number;
  /** Milliseconds clock; tests replace it. */
  now?: () => number;
}

/**
 * `Authorization: Bearer <token>`, parsed as k8s.io/apiserver's bearertoken authenticator does: another scheme or an
 * empty token is "not mine"; a token the cluster rejects is an error ("invalid bearer token"), so the request gets
 * 401 instead of falling through. Concurrent requests with one token share one review; failures to get an answer are
 * not remembered.
 */
export function tokenReviewAuthenticator(review: TokenReviewer, options: TokenCacheOptions = {}): Authenticator {
  const { successTTLMs = 10_000, failureTTLMs = 2_000, maxEntries = 4096, now = Date.now } = options;
  // A review in flight is kept without a TTL (ttl 0) so that concurrent requests share it; once answered it gets
  // the TTL of its outcome. ttlResolution 0: every lookup reads the clock.
  const cache = new LRUCache<string, Promise<TokenReviewResult>>({ max: maxEntries, ttl: successTTLMs, ttlResolution: 0, perf: { now } });

  const lookup = (token: string): Promise<TokenReviewResult> => {
    const key = createHash('sha256').update(token).digest('hex');
    const cached = cache.get(key);
    if (cached) return cached;
    const result = review(token);
    cache.set(key, result, { ttl: 0 });
    result.then(
      (answer) => cache.peek(key) === result && cache.set(key, result, { ttl: answer.user ? successTTLMs : failureTTLMs }),
      () => cache.peek(key) === result && cache.delete(key),
    );
    return result;
  };

  return {
    async authenticate(req) {
      const parts = (req.headers.authorization ?? '').trim().split(' ');
      if (parts.length < 2 || parts[0]!.toLowerCase() !== 'bearer' || !parts[1]) return undefined;
      const { user, error } = await lookup(parts[1]);
      if (!user) throw new Error(error ? `invalid bearer token: ${error}` : 'invalid bearer token');
      return user;
    },
  };
}
