// Authorization delegated to the cluster (checklist §7.5): every request becomes a SubjectAccessReview carrying all
// its attributes, so RBAC rules on subresources (`databases/backup`) and `resourceNames` apply here exactly as they
// do in kube-apiserver.
import {
  AuthorizationV1Api,
  type KubeConfig,
  type V1SubjectAccessReviewSpec,
  type V1SubjectAccessReviewStatus,
} from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { StatusError } from '../../api/errors.ts';
import type { Authorizer, RequestAttributes } from '../authorization.ts';
import { describeError, retryTransient, withTimeout } from './kubeapi.ts';

/** Asks the cluster; throws when it cannot get an answer. */
export type SubjectAccessReviewer = (spec: V1SubjectAccessReviewSpec) => Promise<V1SubjectAccessReviewStatus>;

export function subjectAccessReviewer(kubeConfig: KubeConfig): SubjectAccessReviewer {
  const api = kubeConfig.makeApiClient(AuthorizationV1Api);
  return async (spec) => {
    const review = await retryTransient(() =>
      api.createSubjectAccessReview({ body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec } }, withTimeout()),
    );
    return review.status ?? { allowed: false };
  };
}

/** The review's spec as k8s.io/apiserver's webhook authorizer builds it from the request's attributes. */
export function subjectAccessReviewSpec(attrs: RequestAttributes): V1SubjectAccessReviewSpec {
  const { user } = attrs;
  return {
    user: user.name,
    ...(user.uid ? { uid: user.uid } : {}),
    groups: user.groups,
    extra: user.extra,
    ...(attrs.resourceRequest
      ? {
          resourceAttributes: {
            namespace: attrs.namespace,
            verb: attrs.verb,
            group: attrs.apiGroup,
            version: attrs.apiVersion,
            resource: attrs.resource,
            subresource: attrs.subresource,
            name: attrs.name,
          },
        }
      : { nonResourceAttributes: { path: attrs.path, verb: attrs.verb } }),
  };
}

/**
 * Allowed iff the review says `allowed` and not `denied`; its `reason` goes into the 403 message. When no answer can
 * be had, the request fails with 500 as in k8s.io/apiserver (its authorization filter answers an authorizer error
 * with `InternalError`, `Internal Server Error: "<path>": <error>`), never with an allow.
 */
export function subjectAccessReviewAuthorizer(review: SubjectAccessReviewer, logger: Logger): Authorizer {
  return {
    async authorize(attrs) {
      let status: V1SubjectAccessReviewStatus;
      try {
        status = await review(subjectAccessReviewSpec(attrs));
      } catch (error) {
        const message = describeError(error);
        logger.error({ error: message, user: attrs.user.name, verb: attrs.verb, path: attrs.path }, 'SubjectAccessReview failed');
        throw new StatusError(500, 'InternalError', `Internal Server Error: ${JSON.stringify(attrs.path)}: ${message}`);
      }
      return { allowed: status.allowed && !status.denied, ...(status.reason ? { reason: status.reason } : {}) };
    },
  };
}
