// The local control plane works end to end: kwok's fake kubelets run pods, Jobs complete, claims bind to static
// volumes, authorization is RBAC, and the aggregation layer publishes its front-proxy settings. Binaries missing from
// the cache are built first (once per machine; see build.ts), so the first run of this file is slow.
import assert from "node:assert/strict";
import { once } from "node:events";
import { readFile } from "node:fs/promises";
import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import type { TLSSocket } from "node:tls";
import { startControlPlane, type ControlPlane } from "./harness.ts";
import { kubectl } from "./kubectl.ts";
import { createCertificateAuthority } from "./pki.ts";
import { provisionPersistentVolumes } from "./volumes.ts";

interface PodList {
  items: Array<{
    spec: { nodeName?: string };
    status: { phase: string; conditions?: Array<{ type: string; status: string }> };
  }>;
}

describe("local control plane", () => {
  let cluster: ControlPlane;
  const namespace = "harness-test";
  const run = (args: string[], input?: string): Promise<string> => kubectl(cluster.kubeconfigPath, args, input);
  const pods = async (selector: string): Promise<PodList["items"]> =>
    (JSON.parse(await run(["get", "pods", "-n", namespace, "-l", selector, "-o", "json"])) as PodList).items;

  before(async () => {
    const started = performance.now();
    cluster = await startControlPlane({ log: (line) => console.log(`[harness] ${line}`) });
    console.log(`[harness] startControlPlane took ${((performance.now() - started) / 1000).toFixed(1)}s`);
    await run(["create", "namespace", namespace]);
    // kube-controller-manager creates the namespace's default ServiceAccount; pods are refused until it exists.
    await run(["wait", "--for=create", "serviceaccount/default", "-n", namespace, "--timeout=120s"]);
  });

  after(() => cluster?.stop());

  it("lists the fake nodes as Ready through kubectl", async () => {
    const readyNodes = await run([
      "get", "nodes", "-o",
      'jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}',
    ]);
    assert.deepEqual(readyNodes.trim().split("\n").sort(), cluster.nodeNames.map((name) => `${name}=True`).sort());
  });

  it("runs a Deployment's pods to Running and Ready on kwok nodes", async () => {
    await run(["create", "deployment", "web", "-n", namespace, "--image=registry.invalid/web:1", "--replicas=2"]);
    await run(["rollout", "status", "deployment/web", "-n", namespace, "--timeout=120s"]);
    const webPods = await pods("app=web");
    assert.equal(webPods.length, 2);
    for (const pod of webPods) {
      assert.equal(pod.status.phase, "Running");
      assert.ok(cluster.nodeNames.includes(pod.spec.nodeName ?? ""), `scheduled on ${pod.spec.nodeName}`);
      assert.equal(pod.status.conditions?.find((condition) => condition.type === "Ready")?.status, "True");
    }
  });

  it("completes a Job: its pod Succeeds", async () => {
    await run(["create", "job", "once", "-n", namespace, "--image=registry.invalid/once:1", "--", "true"]);
    await run(["wait", "--for=condition=Complete", "job/once", "-n", namespace, "--timeout=120s"]);
    assert.deepEqual((await pods("job-name=once")).map((pod) => pod.status.phase), ["Succeeded"]);
  });

  it("binds a claim to a statically provisioned volume", async () => {
    const [volume] = await provisionPersistentVolumes(cluster.kubeconfigPath, { count: 1 });
    const claim = {
      apiVersion: "v1",
      kind: "PersistentVolumeClaim",
      metadata: { name: "data", namespace },
      spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } },
    };
    await run(["apply", "-f", "-"], JSON.stringify(claim));
    await run(["wait", "--for=jsonpath={.status.phase}=Bound", "pvc/data", "-n", namespace, "--timeout=120s"]);
    assert.equal(await run(["get", "pvc", "data", "-n", namespace, "-o", "jsonpath={.spec.volumeName}"]), volume);
  });

  it("authenticates client certificates and authorizes with RBAC: a user without bindings is forbidden", async () => {
    const stranger = await cluster.writeKubeconfig("stranger", ["strangers"]);
    await assert.rejects(kubectl(stranger, ["get", "pods", "-n", namespace]), /User "stranger" cannot list resource "pods"/);
    assert.equal((await run(["auth", "can-i", "list", "pods", "-n", namespace])).trim(), "yes");
  });

  it("publishes the front-proxy CA and allowed names for aggregated servers", async () => {
    const data = JSON.parse(
      await run(["get", "configmap", "extension-apiserver-authentication", "-n", "kube-system", "-o", "jsonpath={.data}"]),
    ) as Record<string, string>;
    assert.equal(data["requestheader-client-ca-file"].trim(), (await readFile(cluster.pki.frontProxyCaCert, "utf8")).trim());
    assert.deepEqual(JSON.parse(data["requestheader-allowed-names"]), [cluster.proxyClientName]);
    assert.deepEqual(JSON.parse(data["requestheader-username-headers"]), ["X-Remote-User"]);
  });

  it("routes an APIService through an ExternalName Service to a server on 127.0.0.1, as the front-proxy client", async () => {
    const backendCa = createCertificateAuthority("backend-ca");
    // The aggregator dials 127.0.0.1 but verifies the name <service>.<namespace>.svc against caBundle.
    const serving = backendCa.issue({ commonName: "backend", usage: "server", dnsNames: [`backend.${namespace}.svc`] });
    const callers: Array<{ commonName: string; user: string | undefined }> = [];
    const backend = createServer(
      {
        cert: serving.certPem,
        key: serving.keyPem,
        ca: await readFile(cluster.pki.frontProxyCaCert, "utf8"),
        requestCert: true,
        rejectUnauthorized: true,
      },
      (request, response) => {
        if (request.url !== "/apis/harness.test/v1") return void response.writeHead(404).end();
        const commonName = (request.socket as TLSSocket).getPeerCertificate().subject.CN;
        callers.push({ commonName: String(commonName), user: request.headers["x-remote-user"] as string | undefined });
        response.setHeader("content-type", "application/json");
        response.end(JSON.stringify({ kind: "APIResourceList", apiVersion: "v1", groupVersion: "harness.test/v1", resources: [] }));
      },
    );
    backend.listen(0, "127.0.0.1");
    await once(backend, "listening");
    try {
      const registration = {
        apiVersion: "v1",
        kind: "List",
        items: [
          { apiVersion: "v1", kind: "Service", metadata: { name: "backend", namespace }, spec: { type: "ExternalName", externalName: "127.0.0.1" } },
          {
            apiVersion: "apiregistration.k8s.io/v1",
            kind: "APIService",
            metadata: { name: "v1.harness.test" },
            spec: {
              group: "harness.test",
              version: "v1",
              service: { name: "backend", namespace, port: (backend.address() as AddressInfo).port },
              caBundle: Buffer.from(backendCa.certPem).toString("base64"),
              groupPriorityMinimum: 1000,
              versionPriority: 15,
            },
          },
        ],
      };
      await run(["apply", "-f", "-"], JSON.stringify(registration));
      await run(["wait", "--for=condition=Available", "apiservice/v1.harness.test", "--timeout=120s"]);
      const discovery = JSON.parse(await run(["get", "--raw", "/apis/harness.test/v1"])) as { groupVersion: string };
      assert.equal(discovery.groupVersion, "harness.test/v1");
      assert.ok(
        callers.some((caller) => caller.commonName === cluster.proxyClientName && caller.user === "kubernetes-admin"),
        JSON.stringify(callers),
      );
    } finally {
      await run(["delete", "apiservice", "v1.harness.test"]);
      backend.closeAllConnections();
      backend.close();
    }
  });
});
