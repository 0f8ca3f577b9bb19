// Strongroom installed in the local cluster the way users install it: its image on the real node, `kubectl apply -k`
// of apiservice/overlays/real (two replicas on the etcd storage backend, the APIService pointing at the Service in
// front of them), in-cluster configuration and ServiceAccount tokens. The harness adds what a user's cluster would
// bring: the serving certificate Secret and the APIService's caBundle, the image catalog pointing at the local
// images, and volumes on the real node for the etcd members.
import { mkdir, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { startControlPlane, type ControlPlane, type ControlPlaneOptions } from "./harness.ts";
import { ensureImages, type BuiltImage, type ImageName } from "./images/images.ts";
import { kubectl } from "./kubectl.ts";
import { createCertificateAuthority } from "./pki.ts";
import { waitUntil } from "./process.ts";
import { waitForStrongroomAPI } from "./strongroom.ts";
import { provisionPersistentVolumes } from "./volumes.ts";

export interface InClusterStrongroom {
  controlPlane: ControlPlane;
  /** system:masters on kube-apiserver. */
  kubeconfig: string;
  images: Record<ImageName, BuiltImage>;
  /** Stops the node (its pods with it) and the control plane. Idempotent. */
  stop(): Promise<void>;
}

const realOverlay = fileURLToPath(new URL("../../apiservice/overlays/real", import.meta.url));
const namespace = "strongroom-system";
const service = `strongroom.${namespace}.svc`;

/** `registry/repository:tag` as kustomize's image fields. */
function splitRef(ref: string): { name: string; tag: string } {
  const colon = ref.lastIndexOf(":");
  return { name: ref.slice(0, colon), tag: ref.slice(colon + 1) };
}

/** The catalog Strongroom reads (data key catalog.yaml): engine, then version, to image; and the backup agent's. */
function imageCatalog(images: Record<ImageName, BuiltImage>): object {
  return {
    engines: {
      postgres: { "17": images["postgres-17"].ref, "15": images["postgres-15"].ref },
      // Debian has one Redis 7 (7.0): the local cluster runs it for every 7.x version, which share the protocol and
      // the RDB format; a production catalog names an image per version.
      redis: { "7": images.redis.ref },
      etcd: { "3.6": images["etcd-3.6"].ref, "3.5": images["etcd-3.5"].ref },
    },
    agent: images.strongroom.ref,
  };
}

async function writeInstallation(dir: string, images: Record<ImageName, BuiltImage>): Promise<void> {
  await mkdir(dir, { recursive: true });
  const ca = createCertificateAuthority("strongroom-serving-ca");
  const serving = ca.issue({
    commonName: service,
    usage: "server",
    dnsNames: ["strongroom", `strongroom.${namespace}`, service, `${service}.cluster.local`],
  });
  const base64 = (text: string): string => Buffer.from(text).toString("base64");
  await writeFile(join(dir, "serving-cert.yaml"), stringify({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "strongroom-serving-cert", namespace },
    type: "kubernetes.io/tls",
    data: { "tls.crt": base64(serving.certPem), "tls.key": base64(serving.keyPem) },
  }));
  await writeFile(join(dir, "image-catalog.yaml"), stringify({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "strongroom-images", namespace },
    data: { "catalog.yaml": stringify(imageCatalog(images)) },
  }));
  const strongroom = splitRef(images.strongroom.ref);
  const etcd = splitRef(images["etcd-3.6"].ref);
  await writeFile(join(dir, "kustomization.yaml"), stringify({
    apiVersion: "kustomize.config.k8s.io/v1beta1",
    kind: "Kustomization",
    // kustomize takes relative paths only.
    resources: [relative(dir, realOverlay), "serving-cert.yaml", "image-catalog.yaml"],
    images: [
      { name: "strongroom.local/strongroom", newName: strongroom.name, newTag: strongroom.tag },
      { name: "strongroom.local/etcd", newName: etcd.name, newTag: etcd.tag },
    ],
    patches: [
      {
        target: { kind: "APIService", name: "v1alpha1.strongroom.dev" },
        patch: JSON.stringify([{ op: "add", path: "/spec/caBundle", value: base64(ca.certPem) }]),
      },
    ],
  }));
}

/** Applies the installation to a control plane with a real node, and resolves once the aggregator serves it. */
export async function installStrongroom(
  controlPlane: ControlPlane,
  images: Record<ImageName, BuiltImage>,
  options: { log?: (line: string) => void; timeoutMs?: number } = {},
): Promise<void> {
  const log = options.log ?? (() => {});
  const node = controlPlane.realNode;
  if (!node) throw new Error("Strongroom in the cluster needs the control plane's real node (realNode: true)");
  const started = performance.now();
  const elapsed = (): string => `${((performance.now() - started) / 1000).toFixed(1)}s`;
  const run = (args: string[]) => kubectl(controlPlane.kubeconfigPath, args);
  // The etcd members' claims (the base's volumeClaimTemplates, default StorageClass) bind to these.
  await provisionPersistentVolumes(controlPlane.kubeconfigPath, {
    count: 3,
    capacity: "4Gi",
    local: { hostDir: join(controlPlane.dir, "volumes"), node: node.name },
  });
  const dir = join(controlPlane.dir, "strongroom-installation");
  await writeInstallation(dir, images);
  await run(["apply", "-k", dir]);
  const timeout = `--timeout=${Math.round((options.timeoutMs ?? 300_000) / 1000)}s`;
  await run(["rollout", "status", "statefulset/strongroom-etcd", "-n", namespace, timeout]);
  log(`Strongroom's etcd members ready after ${elapsed()}`);
  await run(["rollout", "status", "deployment/strongroom", "-n", namespace, timeout]);
  log(`Strongroom's Deployment ready after ${elapsed()}`);
  const wait = (what: string, check: () => Promise<boolean>) =>
    waitUntil(what, check, { timeoutMs: options.timeoutMs ?? 300_000, processes: [] });
  await waitForStrongroomAPI(controlPlane, wait, (line) => log(`${line} after ${elapsed()}`));
}

/** The control plane with a real node, the local images imported, and Strongroom installed in it. Root only. */
export async function startStrongroomInCluster(options: ControlPlaneOptions = {}): Promise<InClusterStrongroom> {
  const images = await ensureImages({ log: options.log });
  const controlPlane = await startControlPlane({
    ...options,
    realNode: true,
    imageArchives: Object.values(images).map((image) => image.archive),
  });
  try {
    await installStrongroom(controlPlane, images, { log: options.log, timeoutMs: options.readyTimeoutMs });
  } catch (error) {
    await controlPlane.stop();
    throw error;
  }
  return { controlPlane, kubeconfig: controlPlane.kubeconfigPath, images, stop: () => controlPlane.stop() };
}
