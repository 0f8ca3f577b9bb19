// Cluster mode: who is calling, what they may do and which namespaces exist are decided by the cluster Strongroom
// extends, wired as k8s.io/apiserver's delegating authentication and authorization options wire them.
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { clusterAdmission } from '../../admission/cluster.ts';
import type { AdmissionChain, MutatingAdmissionPlugin, ValidatingAdmissionPlugin } from '../../admission/interface.ts';
import { namespaceLifecycle } from '../../admission/namespacelifecycle.ts';
import { chainAuthenticators, requestHeaderAuthenticator, x509Authenticator, type Authenticator } from '../authentication.ts';
import { SYSTEM_MASTERS, alwaysAllowPaths, cachedAuthorizer, type Authorizer } from '../authorization.ts';
import type { HealthChecks } from '../health.ts';
import { AUTHENTICATION_CONFIGMAP, watchClusterAuthentication } from './authenticationconfig.ts';
import { clusterNamespaces } from './namespaces.ts';
import { subjectAccessReviewAuthorizer, subjectAccessReviewer } from './subjectaccessreview.ts';
import { tokenReviewAuthenticator, tokenReviewer } from './tokenreview.ts';

export { loadClusterConfig } from './cluster.ts';

export interface DelegationOptions {
  logger: Logger;
  /** Gets the ready checks that hold traffic back until the settings and the namespace cache are loaded. */
  health: HealthChecks;
  /** `--client-ca-file`: when given, it replaces the cluster's `client-ca-file` (PEMs as last loaded). */
  clientCAOverride?: () => string[];
}

export interface Delegation {
  authenticator: Authenticator;
  authorizer: Authorizer;
  /**
   * The admission plugins cluster mode adds to the built-in ones, in kube-apiserver's order: NamespaceLifecycle
   * first among the mutating ones; the cluster's policies and webhooks after the built-in validating ones.
   */
  admission: AdmissionChain;
  /**
   * CAs from the cluster that the TLS listener advertises in its certificate request (the front proxy's, the users'),
   * as k8s.io/apiserver does: clients that choose among certificates by that list (Go's crypto/tls with plain
   * `Certificates`) otherwise send none. client-go, and so kubectl and the aggregator, send theirs regardless.
   */
  clientCAs(): string[];
  /** Called after the cluster's settings changed, so clientCAs() may differ. */
  onClientCAsChange(listener: () => void): void;
  /** Resolves true once the settings are loaded and the namespace cache is filled, false after `timeoutMs`. */
  waitForSync(timeoutMs: number): Promise<boolean>;
  stop(): Promise<void>;
}

/** A plugin of cluster mode, with the informers it may keep: stopped with the delegation. */
type ClusterPlugin<P> = P & { stop?(): Promise<void> };

export function startDelegation(kubeConfig: KubeConfig, options: DelegationOptions): Delegation {
  const logger = options.logger.child({ delegation: kubeConfig.getCurrentCluster()?.server });
  const settings = watchClusterAuthentication(kubeConfig, logger);
  const namespaces = clusterNamespaces(kubeConfig, logger);
  const userCAs = () => options.clientCAOverride?.() ?? settings.current()?.clientCA ?? [];
  // One authorizer for requests and for the `authorizer` checks of the cluster's policies and webhook conditions.
  const authorizer = alwaysAllowPaths(
    alwaysAllowGroups(cachedAuthorizer(subjectAccessReviewAuthorizer(subjectAccessReviewer(kubeConfig), logger))),
  );
  const policies = clusterAdmission({ cluster: kubeConfig, logger, authorizer });
  const synced = () => settings.current() !== undefined && namespaces.hasSynced() && policies.hasSynced();
  // The plugins cluster mode adds, one line each; a plugin that keeps informers stops with the delegation.
  const admission: { mutating: ClusterPlugin<MutatingAdmissionPlugin>[]; validating: ClusterPlugin<ValidatingAdmissionPlugin>[] } = {
    mutating: [namespaceLifecycle(namespaces), ...policies.mutating],
    validating: [...policies.validating],
  };

  const { namespace, name } = AUTHENTICATION_CONFIGMAP;
  options.health.addReadyCheck(name, () => (settings.current() ? undefined : `ConfigMap ${namespace}/${name} has not been read yet`));
  options.health.addReadyCheck('informer-sync', () => (namespaces.hasSynced() ? undefined : 'the namespace cache is not filled yet'));
  options.health.addReadyCheck('admission-informers', () =>
    policies.hasSynced() ? undefined : "the cluster's admission configuration is not read yet",
  );

  return {
    // Upstream's order: the front proxy, client certificates, bearer tokens. Unlike upstream's default, a request
    // without credentials gets 401 rather than being let in as system:anonymous.
    authenticator: chainAuthenticators([
      requestHeaderAuthenticator(() => settings.current()?.requestHeader),
      x509Authenticator({ ca: userCAs }),
      tokenReviewAuthenticator(tokenReviewer(kubeConfig)),
    ]),
    authorizer,
    admission,
    clientCAs: () => [...(settings.current()?.requestHeader?.ca ?? []), ...(options.clientCAOverride ? [] : userCAs())],
    onClientCAsChange: (listener) => settings.onChange(listener),
    async waitForSync(timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (!synced() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      return synced();
    },
    async stop() {
      const plugins = [...admission.mutating, ...admission.validating];
      await Promise.all([settings.stop(), namespaces.stop(), ...plugins.map((plugin) => plugin.stop?.())]);
    },
  };
}

/**
 * Members of `groups` may do anything without a review (k8s.io/apiserver's `--authorization-always-allow-groups`,
 * default `system:masters`): the cluster's administrators keep access while the cluster cannot answer reviews. The
 * group comes from a verified identity only; forged headers never reach here (see requestHeaderAuthenticator).
 */
export function alwaysAllowGroups(inner: Authorizer, groups: string[] = [SYSTEM_MASTERS]): Authorizer {
  return {
    async authorize(attrs) {
      if (attrs.user.groups.some((group) => groups.includes(group))) return { allowed: true };
      return inner.authorize(attrs);
    },
  };
}
