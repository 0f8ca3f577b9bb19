// A real worker node beside the KWOK nodes: containerd with runc, kubelet, kube-proxy and CoreDNS as cluster DNS, all
// inside the run's network namespace (nodenetwork.ts) and under the run's directory, so pods really run and stop()
// can take every trace away again: pods, containers, shims, mounts, cgroups, the namespace and the kernel tunables
// kubelet sets.
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, realpath, rm, rmdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { stringify } from "yaml";
import type { NodeBinaries } from "./build.ts";
import { httpsRequest, kubeJSON, type TLSIdentity } from "./client.ts";
import { unmountUnder } from "./images/debian.ts";
import { renderKubeconfig } from "./kubeconfig.ts";
import type { NodeImages } from "./nodeimages.ts";
import { nodeNamespaceNames, type NodeNetwork } from "./nodenetwork.ts";
import type { CertificateAuthority } from "./pki.ts";
import { runCommand, startProcess, waitUntil, type ComponentProcess } from "./process.ts";

export const realNodeName = "real-node";
// Compiled-in paths shared by every containerd, kubelet and libcni on the host, deepest first: shim sockets, ctr's
// fifos and the runc root of a shim that cleans up a dead task under /run/containerd, libcni's cache under
// /var/lib/cni, kubelet's device plugin socket under /var/lib/kubelet.
const sharedDirs = [
  "/run/containerd/s",
  "/run/containerd/fifo",
  "/run/containerd/runc/k8s.io",
  "/run/containerd/runc",
  "/run/containerd",
  "/var/lib/cni/results",
  "/var/lib/cni",
];
const kubeletDefaultRoot = "/var/lib/kubelet";
/** kubelet's cluster DNS answers for this domain; CoreDNS forwards nothing else anywhere. */
const clusterDomain = "cluster.local";
const cgroupMounts = "/sys/fs/cgroup";
// kubelet writes these at start (setupKernelTunables); stop() puts back what the host had.
export const kernelTunables = [
  "vm/overcommit_memory",
  "vm/panic_on_oom",
  "kernel/panic",
  "kernel/panic_on_oops",
  "kernel/keys/root_maxkeys",
  "kernel/keys/root_maxbytes",
].map((name) => `/proc/sys/${name}`);

export interface RealNodeInput {
  /** The run's directory; the node keeps everything under `<dir>/node`. */
  dir: string;
  logDir: string;
  binaries: NodeBinaries;
  network: NodeNetwork;
  /** The apiserver's port on 127.0.0.1, forwarded from the host's end of the link. */
  apiPort: number;
  ca: CertificateAuthority;
  /** The harness's identity for its own API calls (cordon, pod listing). */
  admin: TLSIdentity;
  apiServerURL: string;
  images: NodeImages;
  /** Further OCI archives to import into containerd's k8s.io namespace (Strongroom's and the engines' images). */
  imageArchives: string[];
  timeoutMs: number;
  log: (line: string) => void;
}

export interface RealNode {
  name: string;
  network: NodeNetwork;
  images: NodeImages;
  /** Deletes the node's pods, stops its components and removes everything they left. Idempotent. */
  stop(): Promise<void>;
}

interface PodList {
  items: Array<{ metadata: { name: string; namespace: string } }>;
}

/** The run's cgroup under every hierarchy, the unified one too (runc mirrors containers into it on hybrid hosts). */
async function cgroupDirs(root: string): Promise<string[]> {
  return (await readdir(cgroupMounts)).map((name) => join(cgroupMounts, name, root)).filter((path) => existsSync(path));
}

async function createCgroup(root: string): Promise<void> {
  for (const name of (await readdir(cgroupMounts)).filter((entry) => entry !== "unified")) {
    const path = join(cgroupMounts, name, root);
    await mkdir(path, { recursive: true });
    // A new v1 cpuset starts with no CPUs and no memory nodes; nothing could run in it.
    if (name === "cpuset") {
      for (const file of ["cpuset.cpus", "cpuset.mems"]) {
        await writeFile(join(path, file), await readFile(join(cgroupMounts, name, file)));
      }
    }
  }
}

/** Every process left in the run's cgroups (a container whose shim died), then the cgroups, leaves first. */
async function removeCgroup(root: string): Promise<void> {
  for (const top of await cgroupDirs(root)) {
    const walk = async (path: string): Promise<string[]> => {
      const children = (await readdir(path, { withFileTypes: true })).filter((entry) => entry.isDirectory());
      return [...(await Promise.all(children.map((child) => walk(join(path, child.name))))).flat(), path];
    };
    for (const path of await walk(top)) {
      for (let attempt = 0; ; attempt++) {
        const pids = (await readFile(join(path, "cgroup.procs"), "utf8").catch(() => "")).split("\n").filter(Boolean);
        for (const pid of pids) process.kill(Number(pid), "SIGKILL");
        try {
          await rmdir(path);
          break;
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === "ENOENT") break;
          if (attempt >= 50) throw error;
          await sleep(100);
        }
      }
    }
  }
}

/** Node namespaces of other runs (nodenetwork.ts's names), which may still use the host's shared paths. */
async function otherNodeNamespaces(network: NodeNetwork): Promise<string[]> {
  const names = await readdir("/run/netns").catch(() => []);
  return names.filter((name) => nodeNamespaceNames.includes(name) && name !== network.namespace);
}

/** Processes running `binary` (containerd's shims re-parent themselves away from containerd, so they are found by path). */
async function processesOf(binary: string): Promise<number[]> {
  const target = await realpath(binary);
  const pids: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const exe = await realpath(`/proc/${entry}/exe`).catch(() => "");
    if (exe === target) pids.push(Number(entry));
  }
  return pids;
}

function containerdConfig(root: string, binaries: NodeBinaries, images: NodeImages): string {
  const cniBinDir = join(binaries.bridge, "..");
  // Version 3 is containerd 2.x's schema. Plugins that would write outside the run's directory are disabled: opt
  // (/opt/containerd), NRI (a socket under /var/run/nri), and the snapshotters this node does not use.
  return `version = 3
root = ${JSON.stringify(join(root, "containerd", "root"))}
state = ${JSON.stringify(join(root, "containerd", "state"))}
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.nri.v1.nri", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.erofs", "io.containerd.snapshotter.v1.blockfile", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = ${JSON.stringify(join(root, "containerd.sock"))}

[ttrpc]
  address = ${JSON.stringify(join(root, "containerd.sock.ttrpc"))}

[plugins."io.containerd.cri.v1.images"]
  snapshotter = "overlayfs"
  [plugins."io.containerd.cri.v1.images".pinned_images]
    sandbox = ${JSON.stringify(images.pause)}

[plugins."io.containerd.cri.v1.runtime"]
  # Pods' network namespaces as bind mounts under the state directory, not /var/run/netns.
  netns_mounts_under_state_dir = true
  tolerate_missing_hugetlb_controller = true
  # Containers' OOM scores no lower than containerd's own: lowering one needs CAP_SYS_RESOURCE, which the host may
  # withhold even from root (then runc fails on the sandbox's -998).
  restrict_oom_score_adj = true
  [plugins."io.containerd.cri.v1.runtime".cni]
    bin_dirs = [${JSON.stringify(cniBinDir)}]
    conf_dir = ${JSON.stringify(join(root, "cni", "net.d"))}
  [plugins."io.containerd.cri.v1.runtime".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
        BinaryName = ${JSON.stringify(binaries.runc)}
        Root = ${JSON.stringify(join(root, "runc"))}
        SystemdCgroup = false

[plugins."io.containerd.grpc.v1.cri"]
  # kubelet proxies exec, attach and port-forward to this server, inside the node's namespace.
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
`;
}

/** The pod network's CNI name: one per slot, so this run's entries in libcni's cache are told apart. */
const podNetworkName = (network: NodeNetwork): string => network.namespace;

/**
 * libcni caches each attachment's result under /var/lib/cni/results (not configurable through containerd) until the
 * sandbox's CNI DEL; removes those of this run's pod network and of their sandboxes' loopback, which a node that did
 * not get to stop its sandboxes leaves.
 */
async function removeCniResults(network: NodeNetwork): Promise<void> {
  const dir = "/var/lib/cni/results";
  const entries = await readdir(dir).catch(() => []);
  const prefix = `${podNetworkName(network)}-`;
  for (const entry of entries.filter((name) => name.startsWith(prefix))) {
    const sandbox = entry.slice(prefix.length).replace(/-eth0$/, "");
    await rm(join(dir, entry), { force: true });
    await rm(join(dir, `cni-loopback-${sandbox}-lo`), { force: true });
  }
}

function cniConfig(root: string, network: NodeNetwork): object {
  return {
    cniVersion: "1.0.0",
    name: podNetworkName(network),
    plugins: [
      {
        type: "bridge",
        bridge: "cni0",
        isGateway: true,
        // No masquerading: pods talk to the node and the host's end of the link, which route back to the pod subnet.
        ipMasq: false,
        hairpinMode: true,
        ipam: {
          type: "host-local",
          dataDir: join(root, "cni", "ipam"),
          ranges: [[{ subnet: network.podSubnet }]],
          routes: [{ dst: "0.0.0.0/0" }],
        },
      },
      { type: "portmap", capabilities: { portMappings: true } },
    ],
  };
}

export async function startRealNode(input: RealNodeInput): Promise<RealNode> {
  const { binaries, network, log } = input;
  const root = join(input.dir, "node");
  const cgroupRoot = `/${network.namespace}`;
  const socket = join(root, "containerd.sock");
  const apiServer = `https://${network.hostAddress}:${input.apiPort}`;
  const processes: ComponentProcess[] = [];
  const preexisting = new Set([...sharedDirs, kubeletDefaultRoot].filter((path) => existsSync(path)));
  const savedTunables = await Promise.all(kernelTunables.map(async (path) => [path, await readFile(path, "utf8")] as const));
  const ctr = (args: string[]) => runCommand(binaries.ctr, ["--address", socket, "--namespace", "k8s.io", ...args]);
  const wait = (what: string, check: () => Promise<boolean>) => waitUntil(what, check, { timeoutMs: input.timeoutMs, processes });
  const start = (name: string, binary: string, args: string[]): void => {
    const entered = network.enter(binary, args);
    processes.push(startProcess(name, entered.command, entered.args, {
      logPath: join(input.logDir, `${name}.log`),
      // containerd finds its shim next to itself or on PATH; the shim finds runc by the configured BinaryName.
      env: { PATH: `${join(binaries.containerdShim, "..")}:${process.env.PATH ?? ""}` },
    }));
  };
  const kubeconfig = async (name: string, user: string, groups: string[] = []): Promise<string> => {
    const path = join(root, `${name}.kubeconfig`);
    const client = input.ca.issue({ commonName: user, organizations: groups, usage: "client" });
    await writeFile(path, renderKubeconfig({ server: apiServer, caCertPem: input.ca.certPem, user, client }), { mode: 0o600 });
    return path;
  };

  const removePods = async (): Promise<void> => {
    const nodeURL = `${input.apiServerURL}/api/v1/nodes/${realNodeName}`;
    // Cordoned first, so controllers' replacement pods stay Pending instead of landing here again.
    const cordon = await httpsRequest(input.admin, "PATCH", nodeURL, { spec: { unschedulable: true } }, {
      "content-type": "application/merge-patch+json",
    });
    // Not registered (kubelet never got that far): no pod can be bound to it.
    if (cordon.status === 404) return;
    if (cordon.status !== 200) throw new Error(`cordon ${realNodeName}: HTTP ${cordon.status}: ${cordon.body}`);
    const selector = encodeURIComponent(`spec.nodeName=${realNodeName}`);
    const pods = await kubeJSON<PodList>(input.admin, "GET", `${input.apiServerURL}/api/v1/pods?fieldSelector=${selector}`);
    for (const pod of pods.items) {
      const url = `${input.apiServerURL}/api/v1/namespaces/${pod.metadata.namespace}/pods/${pod.metadata.name}`;
      // The grace period as a query parameter: Node's client frames a DELETE body in a way kube-apiserver refuses.
      const deleted = await httpsRequest(input.admin, "DELETE", `${url}?gracePeriodSeconds=1`);
      if (deleted.status >= 300 && deleted.status !== 404) throw new Error(`DELETE ${url}: HTTP ${deleted.status}: ${deleted.body}`);
    }
    // kubelet lets a pod object go only once its containers and sandbox are stopped (CNI DEL), its volumes unmounted
    // and its cgroup removed; the stopped containers it keeps for garbage collection are removed below.
    await waitUntil("the real node's pods to be gone", async () => {
      const left = await kubeJSON<PodList>(input.admin, "GET", `${input.apiServerURL}/api/v1/pods?fieldSelector=${selector}`);
      return left.items.length === 0;
    }, { timeoutMs: 60_000, processes: [] });
  };

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      const errors: unknown[] = [];
      const attempt = async (step: () => Promise<unknown>) => {
        try {
          await step();
        } catch (error) {
          errors.push(error);
        }
      };
      // Through the API while kubelet still runs: the orderly teardown. The steps after it clean up whatever that
      // left (or everything, when the apiserver or kubelet is already gone).
      if (processes.length > 0) await removePods().catch((error: Error) => log(`real node: orderly pod removal failed: ${error.message}`));
      for (const component of [...processes].reverse().filter((entry) => entry.name !== "containerd")) await component.stop();
      const containerd = processes.find((entry) => entry.name === "containerd");
      if (containerd && !(await containerd.failure())) {
        await attempt(async () => {
          for (const id of (await ctr(["tasks", "list", "--quiet"])).split("\n").filter(Boolean)) {
            await ctr(["tasks", "kill", "--signal", "SIGKILL", id]).catch(() => {});
            await ctr(["tasks", "delete", "--force", id]).catch(() => {});
          }
          for (const id of (await ctr(["containers", "list", "--quiet"])).split("\n").filter(Boolean)) {
            await ctr(["containers", "delete", id]);
          }
        });
      }
      await containerd?.stop();
      await attempt(async () => {
        for (const pid of await processesOf(binaries.containerdShim)) process.kill(pid, "SIGKILL");
      });
      await attempt(() => removeCgroup(cgroupRoot));
      // Containers' root filesystems, volumes, pods' network namespaces, kubelet's own bind mount of its root.
      await attempt(() => unmountUnder(input.dir));
      await attempt(() => removeCniResults(network));
      await attempt(() => network.remove());
      // What this run created of the compiled-in paths; /var/lib/kubelet once no other run's node is left to use it.
      for (const dir of sharedDirs) {
        if (!preexisting.has(dir)) await rmdir(dir).catch(() => {});
      }
      if (!preexisting.has(kubeletDefaultRoot) && (await otherNodeNamespaces(network)).length === 0) {
        await attempt(() => rm(kubeletDefaultRoot, { recursive: true, force: true }));
      }
      await attempt(() => Promise.all(savedTunables.map(([path, value]) => writeFile(path, value))));
      if (errors.length > 0) throw new AggregateError(errors, "the real node did not stop cleanly");
    })());

  try {
    const started = performance.now();
    const elapsed = (): string => `${((performance.now() - started) / 1000).toFixed(1)}s`;
    await mkdir(join(root, "cni", "net.d"), { recursive: true });
    await writeFile(join(root, "cni", "net.d", "10-pods.conflist"), JSON.stringify(cniConfig(root, network), null, 2));
    const containerdToml = join(root, "containerd.toml");
    await writeFile(containerdToml, containerdConfig(root, binaries, input.images));
    await network.forwardToLoopback(input.apiPort);
    await createCgroup(cgroupRoot);

    start("containerd", binaries.containerd, ["--config", containerdToml]);
    await wait("containerd", async () => existsSync(socket) && (await ctr(["version"]).then(() => true, () => false)));
    for (const archive of [input.images.archive, ...input.imageArchives]) await ctr(["images", "import", archive]);
    log(`real node: containerd up with images imported after ${elapsed()}`);

    const kubeletConfig = join(root, "kubelet.yaml");
    await writeFile(kubeletConfig, stringify({
      apiVersion: "kubelet.config.k8s.io/v1beta1",
      kind: "KubeletConfiguration",
      // This machine's cgroups are v1, which kubelet supports only when told to.
      failCgroupV1: false,
      cgroupDriver: "cgroupfs",
      cgroupRoot,
      containerRuntimeEndpoint: `unix://${socket}`,
      address: network.nodeAddress,
      port: 10250,
      readOnlyPort: 0,
      healthzBindAddress: "127.0.0.1",
      // The apiserver authenticates with its kubelet client certificate; kubelet asks the apiserver what it may do.
      authentication: {
        anonymous: { enabled: false },
        webhook: { enabled: true },
        x509: { clientCAFile: join(input.dir, "pki", "ca.crt") },
      },
      authorization: { mode: "Webhook" },
      clusterDNS: [network.nodeAddress],
      clusterDomain,
      // The host's resolver is not the pods' business: pods resolve through cluster DNS only.
      resolvConf: "",
      podLogsDir: join(root, "pod-logs"),
      failSwapOn: false,
      // kubelet's default (-999) needs CAP_SYS_RESOURCE, as above; it would only fail to protect itself.
      oomScoreAdj: 0,
      // The disk is shared with other work; evict only when it is really full.
      evictionHard: { "memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%", "nodefs.inodesFree": "1%" },
      imageGCHighThresholdPercent: 100,
      imageGCLowThresholdPercent: 99,
      serializeImagePulls: false,
    }));
    start("kubelet", binaries.kubelet, [
      `--config=${kubeletConfig}`,
      `--kubeconfig=${await kubeconfig("kubelet", `system:node:${realNodeName}`, ["system:nodes"])}`,
      `--root-dir=${join(root, "kubelet")}`,
      // Not derived from --root-dir; the device plugin socket under /var/lib/kubelet is compiled in (see stop()).
      `--cert-dir=${join(root, "kubelet", "pki")}`,
      `--hostname-override=${realNodeName}`,
      `--node-ip=${network.nodeAddress}`,
    ]);

    const proxyConfig = join(root, "kube-proxy.yaml");
    await writeFile(proxyConfig, stringify({
      apiVersion: "kubeproxy.config.k8s.io/v1alpha1",
      kind: "KubeProxyConfiguration",
      // bootstrap RBAC binds system:node-proxier to this user.
      clientConnection: { kubeconfig: await kubeconfig("kube-proxy", "system:kube-proxy") },
      hostnameOverride: realNodeName,
      mode: "iptables",
      clusterCIDR: network.podSubnet,
      bindAddress: network.nodeAddress,
      healthzBindAddress: `${network.nodeAddress}:10256`,
      metricsBindAddress: "127.0.0.1:10249",
      oomScoreAdj: 0,
      // Zero leaves the conntrack table size and timeouts alone: they are host-wide, not per namespace.
      conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: "0s", tcpCloseWaitTimeout: "0s" },
    }));
    start("kube-proxy", binaries.kubeProxy, [`--config=${proxyConfig}`]);

    await createCoreDnsRbac(input);
    const corefile = join(root, "Corefile");
    const dnsKubeconfig = await kubeconfig("coredns", "system:coredns");
    await writeFile(corefile, `${clusterDomain}:53 {
    bind ${network.nodeAddress}
    errors
    ready ${network.nodeAddress}:8181
    kubernetes ${clusterDomain} {
        kubeconfig ${dnsKubeconfig}
        pods insecure
    }
    cache 5
    loadbalance
}
`);
    start("coredns", binaries.coredns, ["-conf", corefile]);

    await wait(`node ${realNodeName} Ready`, async () => {
      const node = await kubeJSON<{ status?: { conditions?: Array<{ type: string; status: string }> } }>(
        input.admin, "GET", `${input.apiServerURL}/api/v1/nodes/${realNodeName}`,
      );
      return node.status?.conditions?.some((condition) => condition.type === "Ready" && condition.status === "True") ?? false;
    });
    await wait("CoreDNS /ready", async () => (await fetch(`http://${network.nodeAddress}:8181/ready`)).ok);
    log(`real node: ${realNodeName} Ready with cluster DNS after ${elapsed()}`);
    return { name: realNodeName, network, images: input.images, stop };
  } catch (error) {
    await stop().catch((stopError: Error) => log(`real node: cleanup after a failed start: ${stopError.message}`));
    throw error;
  }
}

/** What CoreDNS's kubernetes plugin reads, for its own identity (upstream's system:coredns role). */
async function createCoreDnsRbac(input: RealNodeInput): Promise<void> {
  const rbac = `${input.apiServerURL}/apis/rbac.authorization.k8s.io/v1`;
  await kubeJSON(input.admin, "POST", `${rbac}/clusterroles`, {
    metadata: { name: "system:coredns" },
    rules: [
      { apiGroups: [""], resources: ["services", "pods", "namespaces"], verbs: ["list", "watch"] },
      { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["list", "watch"] },
    ],
  });
  await kubeJSON(input.admin, "POST", `${rbac}/clusterrolebindings`, {
    metadata: { name: "system:coredns" },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "system:coredns" },
    subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: "system:coredns" }],
  });
}
