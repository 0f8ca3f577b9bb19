// The local control plane with Strongroom registered in it the way a production cluster registers it: the objects of
// apiservice/overlays/local (the base's RBAC, Namespace, ServiceAccount, APIService, with an ExternalName Service in
// place of the Deployment's), and Strongroom as a local process in cluster mode. The process authenticates as the
// base's ServiceAccount, so the base's RBAC is what it runs with.
import { mkdir, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { ensureStandalonePKI } from "../../src/server/pki.ts";
import { httpsRequest, kubeJSON, type TLSIdentity } from "./client.ts";
import { freePort, startControlPlane, type ControlPlane, type ControlPlaneOptions } from "./harness.ts";
import { kubectl } from "./kubectl.ts";
import { logTail, startProcess, waitUntil, type ComponentProcess } from "./process.ts";

export interface StrongroomCluster {
  controlPlane: ControlPlane;
  /** system:masters on kube-apiserver: kubectl reaches Strongroom through the aggregator with it. */
  kubeconfig: string;
  /** Strongroom's own address on 127.0.0.1, for calls that bypass the aggregator. */
  strongroomURL: string;
  /** The CA of Strongroom's serving certificate: what the APIService's caBundle holds. */
  strongroomCAPem: string;
  strongroomLogPath: string;
  /** Strongroom's --data-dir: its storage and PKI. */
  strongroomDataDir: string;
  /** The Strongroom process (to crash it, say). */
  strongroom: ComponentProcess;
  /** Stops Strongroom, then the control plane. Idempotent. */
  stop(): Promise<void>;
}

const repository = fileURLToPath(new URL("../../", import.meta.url));
const localOverlay = join(repository, "apiservice", "overlays", "local");
const cli = join(repository, "src", "cli", "main.ts");
const apiServiceName = "v1alpha1.strongroom.dev";
const groupVersion = "strongroom.dev/v1alpha1";
// The ServiceAccount of apiservice/base, as the user name and groups its token would carry.
const serviceAccountUser = "system:serviceaccount:strongroom-system:strongroom";
const serviceAccountGroups = ["system:serviceaccounts", "system:serviceaccounts:strongroom-system"];

interface APIService {
  status?: { conditions?: Array<{ type: string; status: string; reason?: string; message?: string }> };
}

interface APIGroupDiscoveryList {
  items: Array<{ metadata: { name: string }; versions: Array<{ version: string; resources?: unknown[] }> }>;
}

/**
 * A kustomization on top of the local overlay that points the APIService (and, for `kubectl get svc`, the Service)
 * at this run's port and trusts this run's serving CA, so everything is applied once, already correct.
 */
async function writeRegistration(dir: string, port: number, caPem: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const patch = (operations: Array<{ path: string; value: unknown }>) =>
    JSON.stringify(operations.map((operation) => ({ op: "add", ...operation })));
  const kustomization = {
    apiVersion: "kustomize.config.k8s.io/v1beta1",
    kind: "Kustomization",
    // kustomize takes relative paths only.
    resources: [relative(dir, localOverlay)],
    patches: [
      {
        target: { kind: "APIService", name: apiServiceName },
        patch: patch([
          { path: "/spec/service/port", value: port },
          { path: "/spec/caBundle", value: Buffer.from(caPem).toString("base64") },
        ]),
      },
      {
        target: { kind: "Service", name: "strongroom", namespace: "strongroom-system" },
        patch: patch([
          { path: "/spec/ports/0/port", value: port },
          { path: "/spec/ports/0/targetPort", value: port },
        ]),
      },
    ],
  };
  await writeFile(join(dir, "kustomization.yaml"), stringify(kustomization));
}

/**
 * Waits until the aggregator serves strongroom.dev: the APIService Available, then the group in the aggregated
 * discovery document kubectl reads first (which the aggregator refreshes on its own).
 */
export async function waitForStrongroomAPI(
  controlPlane: ControlPlane,
  wait: (what: string, check: () => Promise<boolean>) => Promise<void>,
  log: (line: string) => void,
): Promise<void> {
  const apiServiceURL = `${controlPlane.apiServerURL}/apis/apiregistration.k8s.io/v1/apiservices/${apiServiceName}`;
  let lastCondition = "";
  await wait(`APIService ${apiServiceName} Available`, async () => {
    const available = (await kubeJSON<APIService>(controlPlane.admin, "GET", apiServiceURL)).status?.conditions?.find(
      (condition) => condition.type === "Available",
    );
    lastCondition = `${available?.reason}: ${available?.message}`;
    return available?.status === "True";
  }).catch((error: Error) => {
    throw new Error(`${error.message}; last condition ${lastCondition}`);
  });
  log(`APIService ${apiServiceName} Available`);
  await wait(`${groupVersion} in aggregated discovery`, async () => {
    const response = await httpsRequest(controlPlane.admin, "GET", `${controlPlane.apiServerURL}/apis`, undefined, {
      accept: "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
    });
    const groups = (JSON.parse(response.body) as APIGroupDiscoveryList).items;
    const versions = groups.find((group) => group.metadata.name === "strongroom.dev")?.versions ?? [];
    return versions.some((version) => version.version === "v1alpha1" && (version.resources?.length ?? 0) > 0);
  });
  log(`${groupVersion} discoverable through kube-apiserver`);
}

/** Starts the control plane and Strongroom, and resolves once kubectl can use strongroom.dev through the aggregator. */
export interface StrongroomClusterOptions extends ControlPlaneOptions {
  /** Run the controllers in the Strongroom process (its default); false for tests of the API alone. */
  controllers?: boolean;
}

export async function startStrongroomCluster(options: StrongroomClusterOptions = {}): Promise<StrongroomCluster> {
  const log = options.log ?? (() => {});
  const timeoutMs = options.readyTimeoutMs ?? 180_000;
  const controlPlane = await startControlPlane(options);
  let strongroom: ComponentProcess | undefined;
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      await strongroom?.stop();
      await controlPlane.stop();
    })());

  try {
    const dataDir = join(controlPlane.dir, "strongroom");
    const port = await freePort();
    const strongroomURL = `https://127.0.0.1:${port}`;
    // The PKI the server itself creates under <data-dir>/pki and reuses: made first, so the APIService carries the
    // right caBundle from its very first version and the aggregator never sees a certificate it rejects.
    const pki = await ensureStandalonePKI(join(dataDir, "pki"));
    const registrationDir = join(controlPlane.dir, "apiservice");
    await writeRegistration(registrationDir, port, pki.servingCAPem);
    // RBAC before the process starts: it reads the front-proxy ConfigMap and namespaces as the ServiceAccount.
    await kubectl(controlPlane.kubeconfigPath, ["apply", "-k", registrationDir]);
    const kubeconfig = await controlPlane.writeKubeconfig(serviceAccountUser, serviceAccountGroups);

    const started = performance.now();
    const elapsed = (): string => `${((performance.now() - started) / 1000).toFixed(1)}s`;
    const strongroomLogPath = join(controlPlane.dir, "logs", "strongroom.log");
    strongroom = startProcess("strongroom", process.execPath, [
      cli, "serve",
      "--kubeconfig", kubeconfig,
      "--bind-address", "127.0.0.1",
      "--secure-port", String(port),
      "--data-dir", dataDir,
      `--controllers=${options.controllers ?? true}`,
    ], { logPath: strongroomLogPath });
    const processes = [strongroom];
    const wait = (what: string, check: () => Promise<boolean>) => waitUntil(what, check, { timeoutMs, processes });

    const direct: TLSIdentity = { caPem: pki.servingCAPem };
    await wait("Strongroom /readyz", async () => (await httpsRequest(direct, "GET", `${strongroomURL}/readyz`)).status === 200);
    log(`Strongroom ready after ${elapsed()}`);

    await waitForStrongroomAPI(controlPlane, wait, (line) => log(`${line} after ${elapsed()}`));

    return {
      controlPlane,
      kubeconfig: controlPlane.kubeconfigPath,
      strongroomURL,
      strongroomCAPem: pki.servingCAPem,
      strongroomLogPath,
      strongroomDataDir: dataDir,
      strongroom,
      stop,
    };
  } catch (error) {
    // The run's directory, logs included, goes with stop(): keep what Strongroom said in the error.
    if (strongroom && !(error as Error).message.includes(strongroom.logPath)) (error as Error).message += `\nlast lines of ${strongroom.logPath}:\n${await logTail(strongroom.logPath)}`;
    await stop();
    throw error;
  }
}
