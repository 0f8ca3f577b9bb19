// The real control plane for the runtime's cluster tests (optionally with Strongroom registered behind the
// aggregator), and clients on it, optionally through a FaultProxy.
import { KubeConfig } from '@kubernetes/client-node';
import { KubeConfigClient } from '../../../src/controller/runtime/client.ts';
import { startControlPlane, type ControlPlane } from '../../cluster/harness.ts';
import { startStrongroomCluster } from '../../cluster/strongroom.ts';

export interface TestCluster {
  plane: ControlPlane;
  /** A client as the harness's admin, to `server` (default the apiserver itself). */
  client(server?: string): KubeConfigClient;
  /** Creates a namespace and returns its name. */
  namespace(name: string): Promise<string>;
  stop(): Promise<void>;
}

export async function startTestCluster(options: { strongroom?: boolean } = {}): Promise<TestCluster> {
  const started = performance.now();
  // No nodes: these tests run no pods, and fewer fake kubelets leave more of the 2 cores to the test. No controllers:
  // these tests write Databases' finalizers and children themselves.
  const { plane, stop } = options.strongroom
    ? await startStrongroomCluster({ nodes: 0, controllers: false }).then((cluster) => ({ plane: cluster.controlPlane, stop: () => cluster.stop() }))
    : await startControlPlane({ nodes: 0 }).then((plane) => ({ plane, stop: () => plane.stop() }));
  console.log(`[cluster] control plane${options.strongroom ? ' with Strongroom' : ''} up in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  const admin = new KubeConfig();
  admin.loadFromFile(plane.kubeconfigPath);
  const client = (server?: string): KubeConfigClient => {
    if (!server) return new KubeConfigClient(admin);
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: admin.getClusters().map((cluster) => ({ ...cluster, server })),
      users: admin.getUsers(),
      contexts: admin.getContexts(),
      currentContext: admin.getCurrentContext(),
    });
    return new KubeConfigClient(kc);
  };
  const direct = client();
  return {
    plane,
    client,
    async namespace(name) {
      await direct.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name } } });
      return name;
    },
    stop,
  };
}

/** Polls `check` until it holds (the informer and the cluster converge on their own time). */
export async function eventually(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
