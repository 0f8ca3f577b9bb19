// Statically provisioned PersistentVolumes: the local cluster has no storage provisioner, so PVCs (a StatefulSet's
// volumeClaimTemplates, say) bind only to PVs created up front. kube-controller-manager's PV binder matches them.
import { randomBytes } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { kubectl } from "./kubectl.ts";

export interface PersistentVolumeOptions {
  count: number;
  /** Each volume's capacity; the binder picks the smallest PV satisfying a claim (default 10Gi). */
  capacity?: string;
  /** Created if missing, as the default class, so claims without storageClassName bind too (default "standard"). */
  storageClassName?: string;
  /**
   * A real node's volumes: each PV is a local volume, a directory under `hostDir` made here, bound to `node` by node
   * affinity so a claim's pods run where its data is. Local rather than hostPath: kubelet applies a pod's fsGroup to
   * local volumes, so non-root engines (etcd as 65532, PostgreSQL as 999) can write them. Without, the hostPath is
   * bookkeeping nothing mounts.
   */
  local?: { hostDir: string; node: string };
}

function nodeAffinity(node: string): object {
  return {
    required: { nodeSelectorTerms: [{ matchExpressions: [{ key: "kubernetes.io/hostname", operator: "In", values: [node] }] }] },
  };
}

/** Creates `count` ReadWriteOnce PVs and their StorageClass; returns the PV names. */
export async function provisionPersistentVolumes(kubeconfig: string, options: PersistentVolumeOptions): Promise<string[]> {
  const storageClassName = options.storageClassName ?? "standard";
  // A random infix lets later calls add volumes: with the Retain policy a released PV is never reused.
  const batch = randomBytes(3).toString("hex");
  const names = Array.from({ length: options.count }, (_, i) => `pv-${batch}-${i}`);
  const storageClass = {
    apiVersion: "storage.k8s.io/v1",
    kind: "StorageClass",
    metadata: { name: storageClassName, annotations: { "storageclass.kubernetes.io/is-default-class": "true" } },
    provisioner: "kubernetes.io/no-provisioner",
    // Bind at claim creation, without waiting for a pod to be scheduled: nothing depends on node topology here.
    volumeBindingMode: "Immediate",
  };
  const volumes = names.map((name) => ({
    apiVersion: "v1",
    kind: "PersistentVolume",
    metadata: { name, labels: { "strongroom.dev/test-volume": batch } },
    spec: {
      storageClassName,
      capacity: { storage: options.capacity ?? "10Gi" },
      accessModes: ["ReadWriteOnce"],
      // Retain: no deleter exists; a real node's directories go with the run's directory.
      persistentVolumeReclaimPolicy: "Retain",
      ...(options.local
        ? { local: { path: join(options.local.hostDir, name) } }
        : { hostPath: { path: `/tmp/strongroom-pv/${name}` } }),
      ...(options.local ? { nodeAffinity: nodeAffinity(options.local.node) } : {}),
    },
  }));
  const { local } = options;
  if (local) await Promise.all(names.map((name) => mkdir(join(local.hostDir, name), { recursive: true })));
  const list = { apiVersion: "v1", kind: "List", items: [storageClass, ...volumes] };
  await kubectl(kubeconfig, ["apply", "-f", "-"], JSON.stringify(list));
  return names;
}
