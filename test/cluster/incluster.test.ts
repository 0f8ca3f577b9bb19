// Strongroom installed in the cluster serves the API through the aggregator: the APIService points at the Service in
// front of the Deployment's two pods (no ExternalName, no local process), requests reach them by pod IP, and the API
// keeps answering, with the same stored objects, after one of the two pods is deleted; and stopping leaves the host
// clean. Root only; the images and
// binaries missing from the cache are built first.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ensureNodeBinaries, type NodeBinaries } from "./build.ts";
import { hostState, type HostState } from "./hoststate.ts";
import { startStrongroomInCluster, type InClusterStrongroom } from "./incluster.ts";
import { kubectl } from "./kubectl.ts";

const root = process.getuid?.() === 0;

interface PodList {
  items: Array<{ metadata: { name: string }; spec: { nodeName: string }; status: { podIP?: string; phase: string } }>;
}

describe("Strongroom installed in the cluster", { skip: root ? false : "a real node needs root (network namespace, mounts, cgroups)" }, () => {
  let cluster: InClusterStrongroom;
  let binaries: NodeBinaries;
  let before_: HostState;
  const run = (args: string[], input?: string): Promise<string> => kubectl(cluster.kubeconfig, args, input);
  const strongroomPods = async (): Promise<PodList["items"]> =>
    (JSON.parse(await run(["get", "pods", "-n", "strongroom-system", "-l", "app.kubernetes.io/name=strongroom", "-o", "json"])) as PodList)
      .items;

  before(async () => {
    binaries = await ensureNodeBinaries();
    before_ = await hostState(binaries);
    const started = performance.now();
    cluster = await startStrongroomInCluster({ log: (line) => console.log(`[incluster] ${line}`) });
    console.log(`[incluster] started in ${((performance.now() - started) / 1000).toFixed(1)}s`);
    await run(["create", "namespace", "shop"]);
  });

  after(() => cluster?.stop());

  it("runs two Strongroom pods on the real node behind the APIService's Service", async () => {
    const apiService = JSON.parse(await run(["get", "apiservice", "v1alpha1.strongroom.dev", "-o", "json"])) as {
      spec: { service: { name: string; namespace: string } };
    };
    assert.deepEqual(apiService.spec.service, { name: "strongroom", namespace: "strongroom-system", port: 443 });
    const serviceType = await run(["get", "service", "strongroom", "-n", "strongroom-system", "-o", "jsonpath={.spec.type}"]);
    assert.equal(serviceType, "ClusterIP");
    const pods = await strongroomPods();
    assert.equal(pods.length, 2);
    for (const pod of pods) {
      assert.equal(pod.status.phase, "Running");
      assert.equal(pod.spec.nodeName, cluster.controlPlane.realNode!.name);
    }
    // The endpoints the aggregator routes to are exactly those pods' IPs.
    const slices = await run([
      "get", "endpointslices", "-n", "strongroom-system", "-l", "kubernetes.io/service-name=strongroom",
      "-o", "jsonpath={.items[*].endpoints[*].addresses[*]}",
    ]);
    assert.deepEqual(slices.trim().split(" ").sort(), pods.map((pod) => pod.status.podIP).sort());
  });

  it("serves kubectl get databases through the aggregator, and keeps serving after one pod is deleted", async () => {
    await run(["apply", "-n", "shop", "-f", "-"], JSON.stringify({
      apiVersion: "strongroom.dev/v1alpha1",
      kind: "Database",
      metadata: { name: "orders" },
      spec: { engine: "postgres" },
    }));
    const read = () => run(["get", "databases", "-n", "shop", "-o", "jsonpath={.items[*].metadata.name}"]);
    assert.equal(await read(), "orders");
    const [victim, survivor] = await strongroomPods();
    await run(["delete", "pod", victim!.metadata.name, "-n", "strongroom-system", "--wait"]);
    // Whichever pod answers now, the object is there: both replicas share the etcd store.
    assert.equal(await read(), "orders");
    const names = (await strongroomPods()).map((pod) => pod.metadata.name);
    assert.ok(names.includes(survivor!.metadata.name) && !names.includes(victim!.metadata.name), names.join(", "));
  });

  it("leaves the host as it found it after stop(), Strongroom's and the Database's pods included", async () => {
    await cluster.stop();
    assert.deepEqual(await hostState(binaries), before_);
  });
});
