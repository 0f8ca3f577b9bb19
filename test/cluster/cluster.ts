// `npm run cluster`: the local control plane in the foreground until Ctrl-C, its admin kubeconfig copied to
// .strongroom/cluster/kubeconfig in the repository.
import { copyFile, mkdir, rm } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { startControlPlane } from "./harness.ts";

const repository = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const kubeconfig = join(repository, ".strongroom", "cluster", "kubeconfig");
const log = (line: string): void => console.log(`[cluster] ${line}`);

const controlPlane = await startControlPlane({ log });
await mkdir(dirname(kubeconfig), { recursive: true });
await copyFile(controlPlane.kubeconfigPath, kubeconfig);

let stopping = false;
const shutdown = async (): Promise<void> => {
  if (stopping) return;
  stopping = true;
  log("stopping");
  await controlPlane.stop();
  await rm(kubeconfig, { force: true });
  process.exit(0);
};
process.on("SIGINT", shutdown);
process.on("SIGTERM", shutdown);

console.log(`
Kubernetes control plane running at ${controlPlane.apiServerURL} (nodes: ${controlPlane.nodeNames.join(", ")}).
Logs: ${join(controlPlane.dir, "logs")}

  export KUBECONFIG=${relative(process.cwd(), kubeconfig) || kubeconfig}
  kubectl get nodes

Press Ctrl-C to stop it.`);
