// A real Kubernetes control plane on 127.0.0.1 for tests and `npm run cluster`: etcd, kube-apiserver (with the
// aggregation layer's front-proxy PKI), kube-controller-manager, kube-scheduler, and kwok acting as the kubelet of a
// few fake Nodes so pods become Running/Ready and Job pods Succeed (but for backup agents' pods, which tests run with
// agentpods.ts). Each run has its own PKI, ports and data dir. With `realNode`, one real worker node runs beside them
// (realnode.ts): pods scheduled there really run, and the fake nodes are tainted so that only pods that tolerate
// `kwok.x-k8s.io/node=fake:NoSchedule` land on them.
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { ensureBinaries, ensureNodeBinaries, type ControlPlaneBinaries } from "./build.ts";
import { httpsRequest, kubeJSON, type TLSIdentity } from "./client.ts";
import { renderKubeconfig } from "./kubeconfig.ts";
import { renderKwokConfig } from "./kwokstages.ts";
import { ensureNodeImages } from "./nodeimages.ts";
import { createNodeNetwork, type NodeNetwork } from "./nodenetwork.ts";
import { createCertificateAuthority, createServiceAccountKeyPair, type KeyPair } from "./pki.ts";
import { startProcess, waitUntil, type ComponentProcess } from "./process.ts";
import { startRealNode, type RealNode } from "./realnode.ts";

export interface ControlPlaneOptions {
  /** Fake Nodes managed by kwok (default 3). */
  nodes?: number;
  /** Prebuilt binaries; by default they are built into the cache when missing (see build.ts). */
  binaries?: ControlPlaneBinaries;
  /** Upper bound for every readiness wait (default 180 s: the machine's 2 cores are shared). */
  readyTimeoutMs?: number;
  log?: (line: string) => void;
  /**
   * Also start a real worker node (containerd, kubelet, kube-proxy, CoreDNS) in a network namespace of its own; root
   * only. The aggregator then routes to Services' endpoints (pod IPs), so APIServices point at in-cluster Services.
   */
  realNode?: boolean;
  /** OCI archives imported into the real node's containerd before kubelet starts. */
  imageArchives?: string[];
}

/** Paths of this run's PKI files (PEM). */
export interface ControlPlanePki {
  dir: string;
  /** Cluster CA: signs the apiserver's serving cert and every client cert (`--client-ca-file`). */
  caCert: string;
  caKey: string;
  /** Front-proxy CA (`--requestheader-client-ca-file`): an aggregated server verifies the aggregator with it. */
  frontProxyCaCert: string;
  /** The aggregator's client cert towards aggregated servers (`--proxy-client-cert-file`). */
  proxyClientCert: string;
  proxyClientKey: string;
  serviceAccountKey: string;
  serviceAccountPublicKey: string;
}

export interface ControlPlane {
  apiServerURL: string;
  /** system:masters kubeconfig with embedded certificates. */
  kubeconfigPath: string;
  pki: ControlPlanePki;
  /** The run's directory: PKI, kubeconfigs, etcd data and one log file per component under `logs/`. */
  dir: string;
  nodeNames: string[];
  /** The real worker node, when started with `realNode`. */
  realNode?: RealNode;
  /** CN the aggregator presents (`--requestheader-allowed-names`). */
  proxyClientName: string;
  /** The system:masters identity of `kubeconfigPath`, for the harness's own calls without kubectl. */
  admin: TLSIdentity;
  /** A client certificate for `user` in `groups`, signed by the cluster CA (`--client-ca-file`). */
  clientCertificate(user: string, groups?: string[]): KeyPair;
  /** Writes a kubeconfig authenticating as `user` in `groups` by client certificate; returns its path. */
  writeKubeconfig(user: string, groups?: string[]): Promise<string>;
  /** Stops every component and removes the run's directory. Idempotent. */
  stop(): Promise<void>;
}

// Ranges reserved for benchmark labs (RFC 2544, 198.18.0.0/15), never routed: Service ClusterIPs and fake pod IPs are
// bookkeeping values that nothing may dial, and an address from these ranges makes an accidental dial obvious instead
// of reaching a private network. Services and pods get a /16 each: a documentation /24 holds 254 addresses, fewer than
// a controller benchmark's Databases need (two ClusterIP Services and a pod each).
const serviceClusterIPRange = "198.18.0.0/16";
const kubernetesServiceIP = "198.18.0.1";
const podCIDR = "198.19.0.0/16";
const proxyClientName = "front-proxy-client";
const loopback = "127.0.0.1";

/** A port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, loopback, () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

function flags(values: Record<string, string | number | boolean>): string[] {
  return Object.entries(values).map(([name, value]) => `--${name}=${value}`);
}

interface RunPki {
  files: ControlPlanePki;
  ca: ReturnType<typeof createCertificateAuthority>;
  admin: KeyPair;
  controllerManager: KeyPair;
  scheduler: KeyPair;
  componentServing: KeyPair;
  /** The apiserver's identity towards kubelets (logs, exec, port-forward). */
  kubeletClient: KeyPair;
}

async function writePki(dir: string, extraIPs: string[]): Promise<RunPki> {
  await mkdir(dir, { recursive: true });
  const ca = createCertificateAuthority("strongroom-local-ca");
  const frontProxyCa = createCertificateAuthority("strongroom-local-front-proxy-ca");
  const proxyClient = frontProxyCa.issue({ commonName: proxyClientName, usage: "client" });
  const serviceAccount = createServiceAccountKeyPair();
  const apiServer = ca.issue({
    commonName: "kube-apiserver",
    usage: "server",
    dnsNames: ["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"],
    ipAddresses: [loopback, kubernetesServiceIP, ...extraIPs],
  });
  const files: ControlPlanePki = {
    dir,
    caCert: join(dir, "ca.crt"),
    caKey: join(dir, "ca.key"),
    frontProxyCaCert: join(dir, "front-proxy-ca.crt"),
    proxyClientCert: join(dir, "front-proxy-client.crt"),
    proxyClientKey: join(dir, "front-proxy-client.key"),
    serviceAccountKey: join(dir, "sa.key"),
    serviceAccountPublicKey: join(dir, "sa.pub"),
  };
  const contents: Array<[string, string]> = [
    [files.caCert, ca.certPem],
    [files.caKey, ca.keyPem],
    [files.frontProxyCaCert, frontProxyCa.certPem],
    [files.proxyClientCert, proxyClient.certPem],
    [files.proxyClientKey, proxyClient.keyPem],
    [files.serviceAccountKey, serviceAccount.keyPem],
    [files.serviceAccountPublicKey, serviceAccount.publicKeyPem],
    [join(dir, "apiserver.crt"), apiServer.certPem],
    [join(dir, "apiserver.key"), apiServer.keyPem],
  ];
  await Promise.all(contents.map(([path, pem]) => writeFile(path, pem, { mode: 0o600 })));
  return {
    files,
    ca,
    // system:masters: the harness's own calls, kubectl in tests, and kwok, which writes every Node's and Pod's status.
    admin: ca.issue({ commonName: "kubernetes-admin", organizations: ["system:masters"], usage: "client" }),
    // The identities bootstrap RBAC already binds, as kubeadm uses them.
    controllerManager: ca.issue({ commonName: "system:kube-controller-manager", usage: "client" }),
    scheduler: ca.issue({ commonName: "system:kube-scheduler", usage: "client" }),
    kubeletClient: ca.issue({ commonName: "kube-apiserver-kubelet-client", organizations: ["system:masters"], usage: "client" }),
    componentServing: ca.issue({ commonName: "localhost", usage: "server", dnsNames: ["localhost"], ipAddresses: [loopback] }),
  };
}

const fakeNodeTaint = { key: "kwok.x-k8s.io/node", value: "fake", effect: "NoSchedule" };

function fakeNode(name: string, tainted: boolean): object {
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name,
      annotations: { "node.alpha.kubernetes.io/ttl": "0", "kwok.x-k8s.io/node": "fake" },
      labels: { "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", type: "kwok" },
    },
    ...(tainted ? { spec: { taints: [fakeNodeTaint] } } : {}),
    status: {
      // Loopback, so anything that does dial a "kubelet" (kubectl logs/exec through the apiserver) stays on this host.
      addresses: [
        { type: "InternalIP", address: loopback },
        { type: "Hostname", address: name },
      ],
      allocatable: { cpu: "32", memory: "256Gi", pods: "110" },
      capacity: { cpu: "32", memory: "256Gi", pods: "110" },
    },
  };
}

interface NodeList {
  items: Array<{ metadata: { name: string }; status?: { conditions?: Array<{ type: string; status: string }> } }>;
}

export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const log = options.log ?? (() => {});
  const timeoutMs = options.readyTimeoutMs ?? 180_000;
  if (options.realNode && process.getuid?.() !== 0) {
    throw new Error("a real node needs root: it creates a network namespace, mounts and cgroups (run as root, or without --real)");
  }
  const binaries = options.binaries ?? (await ensureBinaries({ log }));
  const nodeBinaries = options.realNode ? await ensureNodeBinaries({ log }) : undefined;
  const nodeImages = options.realNode ? await ensureNodeImages() : undefined;
  const dir = await mkdtemp(join(tmpdir(), "strongroom-cluster-"));
  const logDir = join(dir, "logs");
  await mkdir(logDir);
  const processes: ComponentProcess[] = [];
  let network: NodeNetwork | undefined;
  let realNode: RealNode | undefined;
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      // The real node first, while the apiserver still answers: its pods are deleted through the API.
      await (realNode?.stop() ?? network?.remove());
      // Reverse start order: clients go before the apiserver, the apiserver before etcd.
      for (const component of [...processes].reverse()) await component.stop();
      await rm(dir, { recursive: true, force: true });
    })());

  try {
    if (options.realNode) network = await createNodeNetwork();
    // The node reaches the apiserver through the host's end of its link, so the serving cert names that address too.
    const pki = await writePki(join(dir, "pki"), network ? [network.hostAddress] : []);
    const [etcdPort, etcdPeerPort, apiPort, controllerManagerPort, schedulerPort] = await Promise.all(
      Array.from({ length: 5 }, freePort),
    );
    const apiServerURL = `https://${loopback}:${apiPort}`;
    const admin: TLSIdentity = { caPem: pki.ca.certPem, client: pki.admin };
    const clientCertificate = (user: string, groups: string[] = []): KeyPair =>
      pki.ca.issue({ commonName: user, organizations: groups, usage: "client" });
    const anonymous: TLSIdentity = { caPem: pki.ca.certPem };
    const healthy = (url: string, identity: TLSIdentity) => async () => (await httpsRequest(identity, "GET", url)).status === 200;
    const wait = (what: string, check: () => Promise<boolean>) => waitUntil(what, check, { timeoutMs, processes });
    const start = (name: string, binary: string, args: string[], env?: Record<string, string>): void => {
      processes.push(startProcess(name, binary, args, { logPath: join(logDir, `${name}.log`), env }));
    };
    const kubeconfigFile = async (name: string, user: string, client: KeyPair): Promise<string> => {
      const path = join(dir, `${name}.kubeconfig`);
      await writeFile(path, renderKubeconfig({ server: apiServerURL, caCertPem: pki.ca.certPem, user, client }), { mode: 0o600 });
      return path;
    };
    const servingFile = async (name: string, pem: string): Promise<string> => {
      const path = join(pki.files.dir, name);
      await writeFile(path, pem, { mode: 0o600 });
      return path;
    };
    const componentCert = await servingFile("component-serving.crt", pki.componentServing.certPem);
    const componentKey = await servingFile("component-serving.key", pki.componentServing.keyPem);

    const started = performance.now();
    const elapsed = (): string => `${((performance.now() - started) / 1000).toFixed(1)}s`;

    start("etcd", binaries.etcd, flags({
      name: "strongroom-local",
      "data-dir": join(dir, "etcd"),
      "listen-client-urls": `http://${loopback}:${etcdPort}`,
      "advertise-client-urls": `http://${loopback}:${etcdPort}`,
      "listen-peer-urls": `http://${loopback}:${etcdPeerPort}`,
      "initial-advertise-peer-urls": `http://${loopback}:${etcdPeerPort}`,
      "initial-cluster": `strongroom-local=http://${loopback}:${etcdPeerPort}`,
      // Throw-away data: durability buys nothing and fsync latency slows every write on a shared disk.
      "unsafe-no-fsync": true,
      "log-level": "warn",
    }));
    await wait("etcd /health", async () => {
      const response = await fetch(`http://${loopback}:${etcdPort}/health`);
      return response.ok && ((await response.json()) as { health: string }).health === "true";
    });
    log(`etcd healthy after ${elapsed()}`);

    start("kube-apiserver", binaries.kubeApiserver, flags({
      "etcd-servers": `http://${loopback}:${etcdPort}`,
      "bind-address": loopback,
      "secure-port": apiPort,
      // A loopback advertise address keeps the apiserver from advertising the host's default-route IP; the endpoint
      // reconciler would reject it when writing the "kubernetes" Endpoints, so that reconciler is off.
      "advertise-address": loopback,
      "endpoint-reconciler-type": "none",
      "cert-dir": join(dir, "apiserver-certs"),
      "tls-cert-file": join(pki.files.dir, "apiserver.crt"),
      "tls-private-key-file": join(pki.files.dir, "apiserver.key"),
      "client-ca-file": pki.files.caCert,
      "authorization-mode": "Node,RBAC",
      "service-account-issuer": "https://kubernetes.default.svc.cluster.local",
      "service-account-key-file": pki.files.serviceAccountPublicKey,
      "service-account-signing-key-file": pki.files.serviceAccountKey,
      "service-cluster-ip-range": serviceClusterIPRange,
      "allow-privileged": true,
      // The aggregation layer, as in a production cluster: the aggregator proves itself to aggregated servers with a
      // front-proxy client cert from a CA of its own, and passes the user in these headers.
      "requestheader-client-ca-file": pki.files.frontProxyCaCert,
      "requestheader-allowed-names": proxyClientName,
      "requestheader-username-headers": "X-Remote-User",
      "requestheader-uid-headers": "X-Remote-Uid",
      "requestheader-group-headers": "X-Remote-Group",
      "requestheader-extra-headers-prefix": "X-Remote-Extra-",
      "proxy-client-cert-file": pki.files.proxyClientCert,
      "proxy-client-key-file": pki.files.proxyClientKey,
      // Off, so APIServices may point at an ExternalName Service (127.0.0.1): routing to endpoints rejects that type.
      // With a real node on: the host has a route to its pods, not to the Service range kube-proxy serves inside it.
      "enable-aggregator-routing": network !== undefined,
      // logs, exec and port-forward: the apiserver authenticates to kubelet with a client certificate.
      ...(network ? { "kubelet-client-certificate": await servingFile("kubelet-client.crt", pki.kubeletClient.certPem) } : {}),
      ...(network ? { "kubelet-client-key": await servingFile("kubelet-client.key", pki.kubeletClient.keyPem) } : {}),
      ...(network ? { "kubelet-preferred-address-types": "InternalIP" } : {}),
    }));
    await wait("kube-apiserver /readyz", healthy(`${apiServerURL}/readyz`, admin));
    log(`kube-apiserver ready after ${elapsed()}`);

    const nodeNames = Array.from({ length: options.nodes ?? 3 }, (_, i) => `kwok-node-${i}`);
    for (const name of nodeNames) await kubeJSON(admin, "POST", `${apiServerURL}/api/v1/nodes`, fakeNode(name, network !== undefined));
    // The endpoint reconciler is off (loopback advertise address); pods reach the apiserver at the "kubernetes"
    // Service through this slice, which kube-proxy sends to the forwarder on the host's end of the node's link.
    if (network) {
      await kubeJSON(admin, "POST", `${apiServerURL}/apis/discovery.k8s.io/v1/namespaces/default/endpointslices`, {
        metadata: {
          name: "kubernetes",
          labels: { "kubernetes.io/service-name": "kubernetes", "endpointslice.kubernetes.io/managed-by": "local-cluster.strongroom.dev" },
        },
        addressType: "IPv4",
        endpoints: [{ addresses: [network.hostAddress], conditions: { ready: true } }],
        ports: [{ name: "https", port: apiPort, protocol: "TCP" }],
      });
    }

    start("kube-controller-manager", binaries.kubeControllerManager, flags({
      kubeconfig: await kubeconfigFile("kube-controller-manager", "system:kube-controller-manager", pki.controllerManager),
      "leader-elect": false,
      "bind-address": loopback,
      "secure-port": controllerManagerPort,
      "tls-cert-file": componentCert,
      "tls-private-key-file": componentKey,
      "authorization-always-allow-paths": "/healthz,/readyz,/livez",
      // One service account per controller, as kubeadm runs it: controllers act with their own RBAC roles (the
      // namespace controller's discovery-driven deletes of aggregated resources included).
      "use-service-account-credentials": true,
      "service-account-private-key-file": pki.files.serviceAccountKey,
      "root-ca-file": pki.files.caCert,
      "service-cluster-ip-range": serviceClusterIPRange,
    }));
    const schedulerKubeconfig = await kubeconfigFile("kube-scheduler", "system:kube-scheduler", pki.scheduler);
    const schedulerConfig = join(dir, "kube-scheduler.yaml");
    await writeFile(schedulerConfig, stringify({
      apiVersion: "kubescheduler.config.k8s.io/v1",
      kind: "KubeSchedulerConfiguration",
      clientConnection: { kubeconfig: schedulerKubeconfig },
      leaderElection: { leaderElect: false },
    }));
    start("kube-scheduler", binaries.kubeScheduler, flags({
      config: schedulerConfig,
      "bind-address": loopback,
      "secure-port": schedulerPort,
      "tls-cert-file": componentCert,
      "tls-private-key-file": componentKey,
      "authorization-always-allow-paths": "/healthz,/readyz,/livez",
    }));
    const kwokConfig = join(dir, "kwok.yaml");
    await writeFile(kwokConfig, renderKwokConfig());
    start(
      "kwok",
      binaries.kwok,
      flags({
        kubeconfig: await kubeconfigFile("kwok", "kubernetes-admin", pki.admin),
        // Our pod Stages: Job pods Succeed at once, except backup agents', which the tests finish (kwokstages.ts).
        config: kwokConfig,
        // The fake nodes only (they carry this annotation), never a real node's kubelet-managed pods.
        "manage-nodes-with-annotation-selector": "kwok.x-k8s.io/node=fake",
        cidr: podCIDR,
        // Heartbeats through node Leases, as kubelets send them: without, kwok patches node status only about once a
        // minute, past the node lifecycle controller's 50 s grace period, so nodes flap NotReady and their pods are
        // marked not ready for good (kwok does not set them ready again).
        "node-lease-duration-seconds": 40,
      }),
      // kwok loads ~/.kwok/kwok.yaml before --config when it exists; a user's stages must not change pod behaviour here.
      { HOME: join(dir, "kwok-home") },
    );

    await wait("kube-controller-manager /healthz", healthy(`https://${loopback}:${controllerManagerPort}/healthz`, anonymous));
    await wait("kube-scheduler /readyz", healthy(`https://${loopback}:${schedulerPort}/readyz`, anonymous));
    await wait(`${nodeNames.length} Ready nodes`, async () => {
      const nodes = await kubeJSON<NodeList>(admin, "GET", `${apiServerURL}/api/v1/nodes`);
      const ready = nodes.items.filter((node) =>
        node.status?.conditions?.some((condition) => condition.type === "Ready" && condition.status === "True"),
      );
      return nodeNames.every((name) => ready.some((node) => node.metadata.name === name));
    });
    log(`control plane ready after ${elapsed()}`);
    if (network && nodeBinaries && nodeImages) {
      realNode = await startRealNode({
        dir,
        logDir,
        binaries: nodeBinaries,
        network,
        apiPort,
        ca: pki.ca,
        admin,
        apiServerURL,
        images: nodeImages,
        imageArchives: options.imageArchives ?? [],
        timeoutMs,
        log,
      });
      log(`real node ready after ${elapsed()}`);
    }

    return {
      apiServerURL,
      kubeconfigPath: await kubeconfigFile("admin", "kubernetes-admin", pki.admin),
      pki: pki.files,
      dir,
      nodeNames,
      realNode,
      proxyClientName,
      admin,
      clientCertificate,
      async writeKubeconfig(user, groups = []) {
        return kubeconfigFile(`user-${user.replaceAll(/[^A-Za-z0-9_.-]/g, "_")}`, user, clientCertificate(user, groups));
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
