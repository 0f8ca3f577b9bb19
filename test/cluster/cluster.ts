// `npm run cluster`: the local control plane with Strongroom registered through its APIService, in the foreground
// until Ctrl-C; the admin kubeconfig is copied to .strongroom/cluster/kubeconfig in the repository.
import { copyFile, mkdir, rm } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { startStrongroomCluster } from "./strongroom.ts";
import { provisionPersistentVolumes } from "./volumes.ts";

const repository = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const kubeconfig = join(repository, ".strongroom", "cluster", "kubeconfig");
const log = (line: string): void => console.log(`[cluster] ${line}`);

const cluster = await startStrongroomCluster({ log });
// No provisioner runs here: the data volumes of Databases bind to these (each claim uses one up for good).
const volumes = await provisionPersistentVolumes(cluster.kubeconfig, { count: 30 });
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
console.log(`
Kubernetes control plane running at ${controlPlane.apiServerURL} (nodes: ${controlPlane.nodeNames.join(", ")}),
with Strongroom serving strongroom.dev/v1alpha1 through the APIService v1alpha1.strongroom.dev
(Strongroom itself listens on ${cluster.strongroomURL}).
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
