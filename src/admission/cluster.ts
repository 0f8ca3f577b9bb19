// The cluster's admission policies for Strongroom's resources, in cluster mode: the MutatingAdmissionWebhook,
// ValidatingAdmissionPolicy and ValidatingAdmissionWebhook plugins, in kube-apiserver's order, fed by informers on the
// cluster's admission configuration and namespaces. Each plugin refuses requests until its caches are filled, so a
// policy is never skipped for not having been seen yet.
import type { KubeConfig } from '@kubernetes/client-node';
import pino, { type Logger } from 'pino';
import { KubeConfigClient, type KubeClient } from '../controller/runtime/client.ts';
import { ClusterInformer } from '../controller/runtime/informer.ts';
import { resourceTypes, type ResourceType } from '../controller/runtime/kinds.ts';
import type { Authorizer } from '../server/authorization.ts';
import type { MutatingAdmissionPlugin, ValidatingAdmissionPlugin } from './interface.ts';
import { namespaceLookup } from './matching/namespaces.ts';
import { paramSource } from './policy/params.ts';
import { validatingAdmissionPolicy } from './policy/plugin.ts';
import type {
  MutatingWebhookConfiguration,
  ValidatingAdmissionPolicy,
  ValidatingAdmissionPolicyBinding,
  ValidatingWebhookConfiguration,
} from './registration.ts';
import { mutatingWebhooks } from './webhook/mutating.ts';
import { validatingWebhooks } from './webhook/validating.ts';

const registration = (kind: string, plural: string): ResourceType => ({
  group: 'admissionregistration.k8s.io',
  version: 'v1',
  kind,
  plural,
  namespaced: false,
});

export const ADMISSION_TYPES = {
  ValidatingAdmissionPolicy: registration('ValidatingAdmissionPolicy', 'validatingadmissionpolicies'),
  ValidatingAdmissionPolicyBinding: registration('ValidatingAdmissionPolicyBinding', 'validatingadmissionpolicybindings'),
  MutatingWebhookConfiguration: registration('MutatingWebhookConfiguration', 'mutatingwebhookconfigurations'),
  ValidatingWebhookConfiguration: registration('ValidatingWebhookConfiguration', 'validatingwebhookconfigurations'),
};

/** A plugin that keeps informers; stopping any of them stops all the informers the set shares. */
type Stoppable<P> = P & { stop(): Promise<void> };

export interface ClusterAdmission {
  mutating: Stoppable<MutatingAdmissionPlugin>[];
  validating: Stoppable<ValidatingAdmissionPlugin>[];
  hasSynced(): boolean;
  /** Resolves once every cache is filled; rejects if `signal` aborts first. */
  waitForSync(signal?: AbortSignal): Promise<void>;
  stop(): Promise<void>;
}

export interface ClusterAdmissionOptions {
  /** The cluster, or a client for it (tests). */
  cluster: KubeConfig | KubeClient;
  logger?: Logger;
  /** What CEL `authorizer` checks ask (the server's SubjectAccessReview authorizer). */
  authorizer?: Authorizer;
}

/** Starts the informers and returns the plugins for the admission chain. */
export function clusterAdmission(options: ClusterAdmissionOptions): ClusterAdmission {
  const client = 'request' in options.cluster ? options.cluster : new KubeConfigClient(options.cluster);
  const logger = (options.logger ?? pino({ level: 'silent' })).child({ admission: 'cluster' });
  const watch = { client, logger };
  const policies = new ClusterInformer<ValidatingAdmissionPolicy>({ ...watch, type: ADMISSION_TYPES.ValidatingAdmissionPolicy });
  const bindings = new ClusterInformer<ValidatingAdmissionPolicyBinding>({ ...watch, type: ADMISSION_TYPES.ValidatingAdmissionPolicyBinding });
  const mutating = new ClusterInformer<MutatingWebhookConfiguration>({ ...watch, type: ADMISSION_TYPES.MutatingWebhookConfiguration });
  const validating = new ClusterInformer<ValidatingWebhookConfiguration>({ ...watch, type: ADMISSION_TYPES.ValidatingWebhookConfiguration });
  const namespaceInformer = new ClusterInformer({ ...watch, type: resourceTypes.Namespace });
  const informers = [policies, bindings, mutating, validating, namespaceInformer];
  for (const i of informers) i.start();

  const namespaces = namespaceLookup(namespaceInformer, client);
  const params = paramSource(client, logger);
  const { authorizer } = options;
  const webhookContext = { namespaces, authorizer };
  let stopped: Promise<void> | undefined;
  const stop = () => (stopped ??= Promise.all([...informers.map((i) => i.stop()), params.stop()]).then(() => {}));
  // Each plugin can stop the set, so a chain that stops every plugin that has `stop` needs no other handle.
  const owning = <P extends object>(plugin: P): Stoppable<P> => Object.assign(plugin, { stop });
  return {
    mutating: [owning(mutatingWebhooks(mutating, webhookContext))],
    validating: [
      owning(validatingAdmissionPolicy({ policies, bindings, namespaces, params, authorizer })),
      owning(validatingWebhooks(validating, webhookContext)),
    ],
    hasSynced: () => informers.every((i) => i.hasSynced()),
    async waitForSync(signal) {
      await Promise.all(informers.map((i) => i.waitForSync(signal)));
    },
    stop,
  };
}
