// `npm run cluster`: the local control plane with Strongroom registered through its APIService, in the foreground
// until Ctrl-C; the admin kubeconfig is copied to .strongroom/cluster/kubeconfig in the repository.
// `npm run cluster -- --real` (root): a real node beside the fake ones, and Strongroom installed in the cluster from
// its image (incluster.ts) instead of running as a local process.
import { copyFile, mkdir, rm } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const repository = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const kubeconfig = join(repository, ".strongroom", "cluster", "kubeconfig");
const log = (line: string): void => console.log(`[cluster] ${line}`);
const real = process.argv.includes("--real");

if (real && process.getuid?.() !== 0) {
  console.error(
    "[cluster] --real starts a real worker node (network namespace, mounts, cgroups, containerd) and needs root.\n" +
      "[cluster] Run it as root, or run `npm run cluster` for the control plane with fake nodes only.",
  );
  process.exit(1);
}
// Imported after the check: loading them builds kubectl when it is missing.
const { startStrongroomCluster } = await import("./strongroom.ts");
const { provisionPersistentVolumes } = await import("./volumes.ts");

const started = performance.now();
const cluster = real
  ? await (await import("./incluster.ts")).startStrongroomInCluster({ log })
  : await startStrongroomCluster({ log });
log(`started in ${((performance.now() - started) / 1000).toFixed(1)}s`);
// No provisioner runs here: the data volumes of Databases bind to these (each claim uses one up for good); with a
// real node they are local volumes, directories of the run on it.
const volumes = await provisionPersistentVolumes(cluster.kubeconfig, {
  count: 30,
  ...(cluster.controlPlane.realNode
    ? { local: { hostDir: join(cluster.controlPlane.dir, "volumes"), node: cluster.controlPlane.realNode.name } }
    : {}),
});
log(`${volumes.length} PersistentVolumes of 10Gi in StorageClass standard`);
await mkdir(dirname(kubeconfig), { recursive: true });
await copyFile(cluster.kubeconfig, kubeconfig);

let stopping = false;
const shutdown = async (): Promise<void> => {
  if (stopping) return;
  stopping = true;
  log("stopping");
  await cluster.stop();
  await rm(kubeconfig, { force: true });
  process.exit(0);
};
process.on("SIGINT", shutdown);
process.on("SIGTERM", shutdown);

const { controlPlane } = cluster;
const nodes = [...(controlPlane.realNode ? [`${controlPlane.realNode.name} (real)`] : []), ...controlPlane.nodeNames];
console.log(`
Kubernetes control plane running at ${controlPlane.apiServerURL} (nodes: ${nodes.join(", ")}),
with Strongroom serving strongroom.dev/v1alpha1 through the APIService v1alpha1.strongroom.dev
(${"strongroomURL" in cluster ? `Strongroom itself listens on ${cluster.strongroomURL}` : "Strongroom runs in the cluster: kubectl get pods -n strongroom-system"}).
Logs: ${join(controlPlane.dir, "logs")}

  export KUBECONFIG=${relative(process.cwd(), kubeconfig) || kubeconfig}
  kubectl get apiservice v1alpha1.strongroom.dev
  kubectl api-resources --api-group strongroom.dev
  kubectl create namespace shop
  kubectl apply -n shop -f - <<< '{"apiVersion": "strongroom.dev/v1alpha1", "kind": "Database",
    "metadata": {"name": "orders"}, "spec": {"engine": "postgres"}}'
  kubectl get databases -A -o wide                    # Provisioning, then Ready
  kubectl scale database orders -n shop --replicas 3
  kubectl describe database orders -n shop             # conditions and the controller's Events

Press Ctrl-C to stop it.`);
