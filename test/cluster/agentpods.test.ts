// Backup agents' pods on the local control plane: kwok starts them but leaves them Running, and what a test reports
// for their container (agentpods.ts) is what the real Job controller completes or fails the Job from.
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { encodeManifest, MANIFEST_FORMAT, type Manifest } from "../../src/agent/manifest.ts";
import type { KubeObject } from "../../src/api/meta.ts";
import { BACKUP_AGENT_ROLE, ROLE_LABEL } from "../../src/engines/common.ts";
import { agentPodOf, finishAgentPod, runAgentPod } from "./agentpods.ts";
import { kubeJSON } from "./client.ts";
import { freePort, startControlPlane, type ControlPlane } from "./harness.ts";
import { kubectl } from "./kubectl.ts";

const namespace = "agent-pods";
const REPOSITORY_PATH = "/var/lib/strongroom/repository";

interface JobOptions {
  agent: boolean;
  backoffLimit?: number;
  container?: object;
  volumes?: object[];
}

function job(name: string, options: JobOptions): object {
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name, namespace },
    spec: {
      backoffLimit: options.backoffLimit ?? 0,
      template: {
        metadata: { labels: options.agent ? { [ROLE_LABEL]: BACKUP_AGENT_ROLE } : {} },
        spec: {
          restartPolicy: "Never",
          containers: [options.container ?? { name: "agent", image: "registry.invalid/strongroom:test", command: ["true"] }],
          volumes: options.volumes ?? [],
        },
      },
    },
  };
}

/** The agent's container of a backup Job, as the orchestration builds it (orchestration.md "Agent Jobs"). */
function agentContainer(command: string, args: string[]): object {
  return {
    name: "agent",
    image: "registry.invalid/strongroom:test",
    command: ["strongroom", "agent", command],
    args: [...args, "--termination-message-path", "/dev/termination-log"],
    terminationMessagePolicy: "FallbackToLogsOnError",
    env: [
      { name: "POD_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
      { name: "STRONGROOM_DB_PASSWORD", valueFrom: { secretKeyRef: { name: "orders-credentials", key: "superuser-password" } } },
    ],
    envFrom: [{ secretRef: { name: "absent-s3-credentials", optional: true } }],
    volumeMounts: [
      { name: "repository", mountPath: REPOSITORY_PATH },
      { name: "scratch", mountPath: "/var/lib/strongroom/scratch" },
    ],
  };
}

const agentVolumes = [
  { name: "repository", emptyDir: {} },
  { name: "scratch", emptyDir: {} },
];

function manifest(backupNamespace: string, backup: string): Manifest {
  return {
    format: MANIFEST_FORMAT,
    namespace: backupNamespace,
    database: "orders",
    backup,
    engine: "postgres",
    engineVersion: "17.2",
    method: "dump",
    archive: "archive.pgdump.zst",
    compression: "zstd",
    sizeBytes: 42,
    sha256: "a".repeat(64),
    sourceBytes: 100,
    startedAt: "2025-01-01T00:00:00Z",
    createdAt: "2025-01-01T00:00:01Z",
  };
}

interface Terminated {
  exitCode: number;
  reason: string;
  message?: string;
  startedAt: string;
  finishedAt: string;
}

describe("backup agents' pods", () => {
  let cluster: ControlPlane;
  let hostDir: string;
  const run = (args: string[], input?: string): Promise<string> => kubectl(cluster.kubeconfigPath, args, input);
  const create = (object: object): Promise<string> => run(["create", "-f", "-"], JSON.stringify(object));
  const get = (path: string): Promise<KubeObject> => kubeJSON<KubeObject>(cluster.admin, "GET", `${cluster.apiServerURL}${path}`);
  const pod = (name: string): Promise<KubeObject> => get(`/api/v1/namespaces/${namespace}/pods/${name}`);
  const jobConditions = async (name: string): Promise<string[]> =>
    ((await get(`/apis/batch/v1/namespaces/${namespace}/jobs/${name}`)).status?.conditions ?? [])
      .filter((condition: { status: string }) => condition.status === "True")
      .map((condition: { type: string; reason?: string }) => `${condition.type}/${condition.reason ?? ""}`);
  const waitForJob = (name: string, condition: "Complete" | "Failed"): Promise<string> =>
    run(["wait", `--for=condition=${condition}`, `job/${name}`, "-n", namespace, "--timeout=120s"]);
  const terminatedOf = (object: KubeObject): Terminated => object.status.containerStatuses[0].state.terminated;

  before(async () => {
    const started = performance.now();
    cluster = await startControlPlane({ log: (line) => console.log(`[agentpods] ${line}`) });
    console.log(`[agentpods] startControlPlane took ${((performance.now() - started) / 1000).toFixed(1)}s`);
    hostDir = await mkdtemp(join(tmpdir(), "strongroom-agentpods-test-"));
    await run(["create", "namespace", namespace]);
    await run(["wait", "--for=create", "serviceaccount/default", "-n", namespace, "--timeout=120s"]);
    await create({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "orders-credentials", namespace },
      stringData: { "superuser-password": "s3cret" },
    });
  });

  after(async () => {
    await cluster?.stop();
    if (hostDir) await rm(hostDir, { recursive: true, force: true });
  });

  it("leaves an agent's pod Running while kwok completes an ordinary Job", async () => {
    await create(job("held", { agent: true }));
    const held = await agentPodOf(cluster.kubeconfigPath, namespace, "held");
    // The ordinary Job starts after the agent's pod runs, so kwok has had at least as long to complete that one.
    await create(job("ordinary", { agent: false }));
    await waitForJob("ordinary", "Complete");
    assert.equal((await pod(held.metadata.name!)).status.phase, "Running");
    assert.deepEqual(await jobConditions("held"), []);
    assert.equal((await get(`/apis/batch/v1/namespaces/${namespace}/jobs/held`)).status.active, 1);
  });

  it("refuses to end an ordinary Job's pod, which kwok runs", async () => {
    await create(job("not-an-agent", { agent: false }));
    await assert.rejects(agentPodOf(cluster.kubeconfigPath, namespace, "not-an-agent"), /not labelled strongroom.dev\/role=backup-agent/);
  });

  it("completes the Job when the agent exits 0, with the termination message in the pod's status", async () => {
    await create(job("succeeds", { agent: true }));
    const running = await agentPodOf(cluster.kubeconfigPath, namespace, "succeeds");
    const message = JSON.stringify({ sizeBytes: 42, sha256: "a".repeat(64), location: "pvc://backups/x" });
    await finishAgentPod(cluster.kubeconfigPath, running, { exitCode: 0, message });
    await waitForJob("succeeds", "Complete");
    const finished = await pod(running.metadata.name!);
    assert.equal(finished.status.phase, "Succeeded");
    assert.deepEqual(
      { ...terminatedOf(finished), startedAt: undefined, finishedAt: undefined },
      { exitCode: 0, reason: "Completed", message, startedAt: undefined, finishedAt: undefined },
    );
    assert.equal(terminatedOf(finished).startedAt, running.status.containerStatuses[0].state.running.startedAt);
  });

  it("fails a Job with backoffLimit 0 when the agent exits 1", async () => {
    await create(job("fails", { agent: true, backoffLimit: 0 }));
    const running = await agentPodOf(cluster.kubeconfigPath, namespace, "fails");
    await finishAgentPod(cluster.kubeconfigPath, running, { exitCode: 1, message: '{"error":"connection refused"}' });
    await waitForJob("fails", "Failed");
    assert.ok((await jobConditions("fails")).includes("Failed/BackoffLimitExceeded"), (await jobConditions("fails")).join());
    const finished = await pod(running.metadata.name!);
    assert.equal(finished.status.phase, "Failed");
    assert.equal(terminatedOf(finished).exitCode, 1);
    assert.equal(terminatedOf(finished).reason, "Error");
    assert.equal(terminatedOf(finished).message, '{"error":"connection refused"}');
  });

  describe("runs the agent's container on this host", () => {
    const ours = manifest(namespace, "nightly");
    const cases: Array<{
      name: string;
      repository: Array<[string, Manifest]>;
      args: string[];
      exitCode: number;
      lastLine: unknown;
      job: "Complete" | "Failed";
    }> = [
      {
        name: "an empty repository lists nothing",
        repository: [],
        args: ["--repository", `fs:${REPOSITORY_PATH}`],
        exitCode: 0,
        lastLine: undefined,
        job: "Complete",
      },
      {
        // $(POD_NAMESPACE) from the downward API: the other namespace's backup is not listed.
        name: "lists the pod's namespace's backups from the mapped repository",
        repository: [
          [`${namespace}/orders/nightly/manifest.json`, ours],
          ["elsewhere/orders/weekly/manifest.json", manifest("elsewhere", "weekly")],
        ],
        args: [`--repository=fs:${REPOSITORY_PATH}`, "--namespace", "$(POD_NAMESPACE)"],
        exitCode: 0,
        lastLine: ours,
        job: "Complete",
      },
      {
        name: "a bad command line exits 2 and fails the Job",
        repository: [],
        args: ["--repository", "fs:relative"],
        exitCode: 2,
        lastLine: { error: "--repository fs: needs an absolute path, not relative" },
        job: "Failed",
      },
    ];
    for (const [i, testCase] of cases.entries()) {
      it(testCase.name, async () => {
        const repository = join(hostDir, `repository-${i}`);
        await mkdir(repository);
        for (const [key, content] of testCase.repository) {
          await mkdir(join(repository, key, ".."), { recursive: true });
          await writeFile(join(repository, key), encodeManifest(content));
        }
        const name = `list-${i}`;
        await create(job(name, { agent: true, container: agentContainer("list", testCase.args), volumes: agentVolumes }));
        const running = await agentPodOf(cluster.kubeconfigPath, namespace, name);

        const result = await runAgentPod(cluster.kubeconfigPath, running, { paths: { [REPOSITORY_PATH]: repository }, services: {} });

        assert.equal(result.exitCode, testCase.exitCode, result.stderr);
        assert.deepEqual(result.lastLine, testCase.lastLine);
        assert.equal(result.stdout.trim().split("\n").filter(Boolean).length, testCase.lastLine === undefined ? 0 : 1);
        await waitForJob(name, testCase.job);
        const terminated = terminatedOf(await pod(running.metadata.name!));
        assert.equal(terminated.exitCode, testCase.exitCode);
        // The agent wrote its last line to the rewritten --termination-message-path.
        assert.equal(terminated.message, testCase.lastLine === undefined ? undefined : JSON.stringify(testCase.lastLine));
      });
    }

    it("points --host and --port at the mapped port and reports as the pod's service account", async () => {
      const closedPort = await freePort();
      const service = `orders.${namespace}.svc`;
      const args = [
        "--engine", "redis", "--host", service, "--port", "6379",
        "--repository", `fs:${REPOSITORY_PATH}`, "--namespace", namespace, "--database", "orders", "--backup", "b1",
        "--scratch-dir", "/var/lib/strongroom/scratch", "--report-to", "in-cluster",
      ];
      await create(job("backup", { agent: true, container: agentContainer("backup", args), volumes: agentVolumes }));
      const running = await agentPodOf(cluster.kubeconfigPath, namespace, "backup");
      const repository = join(hostDir, "repository-backup");
      await mkdir(repository);

      const result = await runAgentPod(cluster.kubeconfigPath, running, {
        paths: { [REPOSITORY_PATH]: repository },
        services: { [service]: { host: "127.0.0.1", port: closedPort } },
      });

      assert.equal(result.exitCode, 1, result.stderr);
      assert.match((result.lastLine as { error: string }).error, new RegExp(`127\\.0\\.0\\.1:${closedPort}`));
      // The report reached the apiserver (KUBERNETES_SERVICE_HOST/PORT, the CA of the projected volume) with the
      // pod's own token, which is not allowed to patch backups/status: the agent goes on, as it should.
      assert.match(result.stderr, /could not report the start: .*system:serviceaccount:agent-pods:default/);
      await waitForJob("backup", "Failed");
    });

    it("refuses a pod with a volume it cannot place on this host", async () => {
      // A hostPath volume stands for a claim: only the caller knows which host directory holds its data.
      const volumes = [{ name: "repository", hostPath: { path: "/var/lib/strongroom-test" } }, agentVolumes[1]!];
      const container = agentContainer("list", ["--repository", `fs:${REPOSITORY_PATH}`]);
      await create(job("unmapped", { agent: true, container, volumes }));
      const running = await agentPodOf(cluster.kubeconfigPath, namespace, "unmapped");
      await assert.rejects(
        runAgentPod(cluster.kubeconfigPath, running, { paths: {}, services: {} }),
        /no host directory for \/var\/lib\/strongroom\/repository \(volume repository\)/,
      );
    });
  });
});
