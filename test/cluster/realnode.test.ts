// The real worker node runs what it is given: a Ready node with the machine's capacity, a pod whose output kubectl
// logs reads, cluster DNS for Service names, exec and port-forward through the apiserver, a claim whose data outlives
// its pod, and a stop() after which the host is as it was. Root only (namespaces, mounts, cgroups); binaries missing
// from the cache are built first.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ensureKubectl, ensureNodeBinaries, type NodeBinaries } from "./build.ts";
import { startControlPlane, type ControlPlane } from "./harness.ts";
import { hostState, type HostState } from "./hoststate.ts";
import { kubectl } from "./kubectl.ts";
import { realNodeName } from "./realnode.ts";
import { provisionPersistentVolumes } from "./volumes.ts";

const root = process.getuid?.() === 0;

describe("real node", { skip: root ? false : "a real node needs root (network namespace, mounts, cgroups)" }, () => {
  let cluster: ControlPlane;
  let binaries: NodeBinaries;
  let before_: HostState;
  const namespace = "real-node-test";
  const run = (args: string[], input?: string): Promise<string> => kubectl(cluster.kubeconfigPath, args, input);
  const busybox = (): string => cluster.realNode!.images.busybox;
  const pod = (name: string, command: string[], spec: Record<string, unknown> = {}) =>
    JSON.stringify({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name, namespace, labels: { app: name } },
      spec: { terminationGracePeriodSeconds: 1, containers: [{ name: "main", image: busybox(), command }], ...spec },
    });
  const waitReady = (name: string) => run(["wait", "--for=condition=Ready", `pod/${name}`, "-n", namespace, "--timeout=180s"]);

  before(async () => {
    binaries = await ensureNodeBinaries();
    before_ = await hostState(binaries);
    const started = performance.now();
    cluster = await startControlPlane({ realNode: true, log: (line) => console.log(`[realnode] ${line}`) });
    console.log(`[realnode] startControlPlane with a real node took ${((performance.now() - started) / 1000).toFixed(1)}s`);
    await run(["create", "namespace", namespace]);
    await run(["wait", "--for=create", "serviceaccount/default", "-n", namespace, "--timeout=120s"]);
  });

  after(() => cluster?.stop());

  it("registers a Ready node with the machine's capacity", async () => {
    const node = JSON.parse(await run(["get", "node", realNodeName, "-o", "json"])) as {
      status: { capacity: Record<string, string>; conditions: Array<{ type: string; status: string }>; nodeInfo: { containerRuntimeVersion: string } };
    };
    assert.equal(node.status.conditions.find((condition) => condition.type === "Ready")?.status, "True");
    assert.equal(Number(node.status.capacity.cpu), cpus().length);
    // kubelet reports MemTotal in Ki; the two sources round differently by a few pages at most.
    const memoryKi = Number(/^(\d+)Ki$/.exec(node.status.capacity.memory!)?.[1]);
    assert.ok(Math.abs(memoryKi * 1024 - totalmem()) < 64 * 1024 * 1024, `memory ${node.status.capacity.memory} vs ${totalmem()}`);
    assert.match(node.status.nodeInfo.containerRuntimeVersion, /^containerd:\/\/2\./);
  });

  it("runs a pod's command and serves its output to kubectl logs", async () => {
    await run(["apply", "-f", "-"], pod("hello", ["sh", "-c", "echo hello from $(hostname) as $(id -u)"], { restartPolicy: "Never" }));
    await run(["wait", "--for=jsonpath={.status.phase}=Succeeded", "pod/hello", "-n", namespace, "--timeout=180s"]);
    assert.equal((await run(["logs", "hello", "-n", namespace])).trim(), "hello from hello as 0");
    const scheduled = await run(["get", "pod", "hello", "-n", namespace, "-o", "jsonpath={.spec.nodeName}"]);
    assert.equal(scheduled, realNodeName);
  });

  it("resolves a Service's name inside a pod and reaches it, and execs there", async () => {
    await run(["apply", "-f", "-"], pod("web", ["sh", "-c", "mkdir /www && echo served-by-web > /www/index.html && exec httpd -f -p 8080 -h /www"]));
    await run(["expose", "pod", "web", "-n", namespace, "--port=80", "--target-port=8080"]);
    await run(["apply", "-f", "-"], pod("client", ["sleep", "3600"]));
    await Promise.all([waitReady("web"), waitReady("client")]);
    const clusterIP = await run(["get", "service", "web", "-n", namespace, "-o", "jsonpath={.spec.clusterIP}"]);
    const lookup = await run(["exec", "client", "-n", namespace, "--", "nslookup", `web.${namespace}.svc.cluster.local`]);
    assert.match(lookup, new RegExp(`Address: ${clusterIP.replaceAll(".", "\\.")}\\b`));
    // The short name through the pod's search path, then the Service through kube-proxy's rules to the other pod.
    assert.equal((await run(["exec", "client", "-n", namespace, "--", "wget", "-q", "-O", "-", "http://web/"])).trim(), "served-by-web");
    assert.equal((await run(["exec", "web", "-n", namespace, "--", "cat", "/www/index.html"])).trim(), "served-by-web");
  });

  it("forwards a local port to a pod", async () => {
    const forward = spawn(await ensureKubectl(), [`--kubeconfig=${cluster.kubeconfigPath}`, "port-forward", "-n", namespace, "pod/web", "0:8080"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    try {
      let output = "";
      forward.stdout.setEncoding("utf8");
      const port = await new Promise<number>((resolve, reject) => {
        forward.stdout.on("data", (chunk: string) => {
          output += chunk;
          const match = /Forwarding from 127\.0\.0\.1:(\d+)/.exec(output);
          if (match) resolve(Number(match[1]));
        });
        forward.on("exit", (code) => reject(new Error(`kubectl port-forward exited with ${code}: ${output}`)));
      });
      const response = await fetch(`http://127.0.0.1:${port}/index.html`);
      assert.equal((await response.text()).trim(), "served-by-web");
    } finally {
      forward.kill();
      await once(forward, "exit").catch(() => {});
    }
  });

  it("binds a claim to a volume of the node and keeps its data across pods", async () => {
    await provisionPersistentVolumes(cluster.kubeconfigPath, {
      count: 1,
      capacity: "1Gi",
      storageClassName: "real-node",
      local: { hostDir: join(cluster.dir, "volumes"), node: realNodeName },
    });
    await run(["apply", "-f", "-"], JSON.stringify({
      apiVersion: "v1",
      kind: "PersistentVolumeClaim",
      metadata: { name: "data", namespace },
      spec: { storageClassName: "real-node", accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } },
    }));
    await run(["wait", "--for=jsonpath={.status.phase}=Bound", "pvc/data", "-n", namespace, "--timeout=120s"]);
    const withClaim = (name: string, command: string[]) =>
      pod(name, [], {
        restartPolicy: "Never",
        containers: [{ name: "main", image: busybox(), command, volumeMounts: [{ name: "data", mountPath: "/data" }] }],
        volumes: [{ name: "data", persistentVolumeClaim: { claimName: "data" } }],
      });
    await run(["apply", "-f", "-"], withClaim("writer", ["sh", "-c", "echo kept > /data/file"]));
    await run(["wait", "--for=jsonpath={.status.phase}=Succeeded", "pod/writer", "-n", namespace, "--timeout=180s"]);
    await run(["delete", "pod", "writer", "-n", namespace, "--wait"]);
    await run(["apply", "-f", "-"], withClaim("reader", ["cat", "/data/file"]));
    await run(["wait", "--for=jsonpath={.status.phase}=Succeeded", "pod/reader", "-n", namespace, "--timeout=180s"]);
    assert.equal((await run(["logs", "reader", "-n", namespace])).trim(), "kept");
  });

  it("leaves the host as it found it after stop()", async () => {
    await cluster.stop();
    assert.deepEqual(await hostState(binaries), before_);
  });
});
