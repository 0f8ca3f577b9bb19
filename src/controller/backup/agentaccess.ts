// The identity agent Jobs run as: in every namespace where one runs, the ServiceAccount strongroom-backup-agent bound
// to the ClusterRole of the same name (apiservice/base/server-rbac.yaml), which lets it report Backup status and
// nothing else. Both are applied once per namespace and leadership term; they are shared by every database of the
// namespace, so no single Database or Backup owns them.
import type { KubeObject } from '../../api/meta.ts';
import { MANAGED_BY } from '../../engines/common.ts';
import { applyObject } from '../runtime/apply.ts';
import type { KubeClient } from '../runtime/client.ts';

export const AGENT_ROLE = 'strongroom-backup-agent';

function objects(namespace: string, name: string): KubeObject[] {
  const labels = { 'app.kubernetes.io/managed-by': MANAGED_BY };
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace, labels } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name, namespace, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: AGENT_ROLE },
      subjects: [{ kind: 'ServiceAccount', name, namespace }],
    },
  ];
}

export class AgentAccess {
  private readonly client: KubeClient;
  private readonly serviceAccount: string;
  private readonly ready = new Set<string>();

  constructor(client: KubeClient, serviceAccount: string) {
    this.client = client;
    this.serviceAccount = serviceAccount;
  }

  /** Makes sure agents can run as `serviceAccount` in `namespace`. */
  async ensure(namespace: string, signal?: AbortSignal): Promise<void> {
    if (this.ready.has(namespace)) return;
    for (const obj of objects(namespace, this.serviceAccount)) await applyObject(this.client, obj, { signal });
    this.ready.add(namespace);
  }
}
