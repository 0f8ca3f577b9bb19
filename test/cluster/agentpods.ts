// The kubelet of backup agents' pods in cluster tests. kwok starts every pod but leaves those labelled
// strongroom.dev/role=backup-agent Running (kwokstages.ts); a test runs such a pod's container here, as a process on
// this host against loopback databases, and reports its exit in the pod's status, so that the real Job controller
// completes or fails the Job from what the agent really did.
//
// What the kubelet would provide, translated to the host: volumes are host directories (the caller's, or temporary
// ones for emptyDir, secret, configMap and projected volumes, filled from the cluster), container paths in the command
// line are rewritten to them, Service host names are rewritten to 127.0.0.1 ports, and the environment is resolved
// from the cluster. The pod's status is then written as the kubelet writes it when a container exits.
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { constants, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { SERVICE_ACCOUNT_DIR } from "../../src/agent/reporter.ts";
import type { KubeObject } from "../../src/api/meta.ts";
import { BACKUP_AGENT_ROLE, ROLE_LABEL } from "../../src/engines/common.ts";
import { httpsRequest, kubeJSON } from "./client.ts";
import { readKubeconfig, type KubeconfigClient } from "./kubeconfig.ts";
import { waitUntil } from "./process.ts";

export interface AgentPodRun {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** The last line of stdout parsed as JSON (the agent's result or {"error"}), or undefined when it is not JSON. */
  lastLine: unknown;
}

export interface HostMapping {
  /**
   * Container path prefix → host directory, for volume mounts (repository, data, ...). Every mount of the container
   * must be covered, except emptyDir, secret, configMap and projected volumes, which get a fresh temporary directory
   * filled as the kubelet fills them (a mapping here takes precedence, to look at or prepare their contents).
   */
  paths: Record<string, string>;
  /** Service host name (the value of --host) → where the database listens on this host; replaces --host and --port. */
  services: Record<string, { host: string; port: number }>;
  /** Extra environment, last (e.g. STRONGROOM_REPORT_TOKEN); KUBERNETES_SERVICE_HOST/PORT are set to the apiserver. */
  env?: Record<string, string>;
}

const REPOSITORY = join(import.meta.dirname, "..", "..");
const CLI_MAIN = join(REPOSITORY, "src", "cli", "main.ts");
const DEFAULT_TERMINATION_MESSAGE_PATH = "/dev/termination-log";
// The kubelet's limits: a termination message file is read up to 4 KiB; the log fallback takes the last 80 lines,
// at most 2 KiB of them.
const MAX_TERMINATION_MESSAGE_BYTES = 4096;
const FALLBACK_LOG_LINES = 80;
const FALLBACK_LOG_BYTES = 2048;

interface KeyToPath {
  key: string;
  path: string;
}

interface DataSource {
  name: string;
  items?: KeyToPath[];
  optional?: boolean;
}

interface DownwardAPIFile {
  path: string;
  fieldRef?: { fieldPath: string };
}

interface ProjectedSource {
  secret?: DataSource;
  configMap?: DataSource;
  downwardAPI?: { items?: DownwardAPIFile[] };
  serviceAccountToken?: { path: string; audience?: string; expirationSeconds?: number };
}

interface Volume {
  name: string;
  emptyDir?: object;
  secret?: Omit<DataSource, "name"> & { secretName: string };
  configMap?: DataSource;
  projected?: { sources?: ProjectedSource[] };
}

interface KeyRef {
  name: string;
  key: string;
  optional?: boolean;
}

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: KeyRef; configMapKeyRef?: KeyRef; fieldRef?: { fieldPath: string } };
}

interface EnvFromSource {
  prefix?: string;
  secretRef?: { name: string; optional?: boolean };
  configMapRef?: { name: string; optional?: boolean };
}

interface Container {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  envFrom?: EnvFromSource[];
  volumeMounts?: Array<{ name: string; mountPath: string; subPath?: string }>;
  terminationMessagePath?: string;
  terminationMessagePolicy?: string;
}

interface ContainerStatus {
  name: string;
  state?: { running?: { startedAt?: string } };
  [field: string]: unknown;
}

interface JobCondition {
  type: string;
  status: string;
}

interface Terminated {
  exitCode: number;
  message: string;
  startedAt?: string;
  finishedAt: string;
}

const podPath = (namespace: string, name = ""): string => `/api/v1/namespaces/${namespace}/pods${name && `/${name}`}`;
const nameOf = (pod: KubeObject): string => `${pod.metadata.namespace}/${pod.metadata.name}`;
// metav1.Time: RFC 3339 in whole seconds.
const timestamp = (date = new Date()): string => date.toISOString().replace(/\.\d+Z$/, "Z");

/** The pod's only container; refuses pods kwok runs itself, whose status a test must not write. */
function agentContainer(pod: KubeObject): Container {
  if (pod.metadata.labels?.[ROLE_LABEL] !== BACKUP_AGENT_ROLE) {
    throw new Error(`pod ${nameOf(pod)} is not labelled ${ROLE_LABEL}=${BACKUP_AGENT_ROLE}: kwok runs it`);
  }
  const containers = (pod.spec?.containers ?? []) as Container[];
  if (containers.length !== 1) throw new Error(`pod ${nameOf(pod)} has ${containers.length} containers, not one`);
  return containers[0]!;
}

/** Waits for the pod of Job `jobName` (label job-name) to exist and be Running; returns it (the newest, after retries). */
export async function agentPodOf(kubeconfig: string, namespace: string, jobName: string): Promise<KubeObject> {
  const { server, identity } = await readKubeconfig(kubeconfig);
  const podsURL = `${server}${podPath(namespace)}?${new URLSearchParams({ labelSelector: `job-name=${jobName}` })}`;
  const jobURL = `${server}/apis/batch/v1/namespaces/${namespace}/jobs/${jobName}`;
  let found: KubeObject | undefined;
  let ended: string | undefined;
  await waitUntil(
    `a Running pod of Job ${namespace}/${jobName}`,
    async () => {
      const pods = (await kubeJSON<{ items: KubeObject[] }>(identity, "GET", podsURL)).items;
      // Any pod will do to refuse an ordinary Job at once: kwok may complete its pod before it is seen Running.
      found =
        pods.find((pod) => pod.metadata.labels?.[ROLE_LABEL] !== BACKUP_AGENT_ROLE) ??
        pods
          .filter((pod) => pod.status?.phase === "Running" && !pod.metadata.deletionTimestamp)
          .sort((a, b) => (a.metadata.creationTimestamp ?? "").localeCompare(b.metadata.creationTimestamp ?? ""))
          .at(-1);
      if (found) return true;
      // A finished Job runs no pod any more: fail now rather than at the timeout.
      const conditions = ((await kubeJSON<KubeObject>(identity, "GET", jobURL)).status?.conditions ?? []) as JobCondition[];
      ended = conditions.find((condition) => ["Complete", "Failed"].includes(condition.type) && condition.status === "True")?.type;
      return ended !== undefined;
    },
    { timeoutMs: 120_000, processes: [] },
  );
  if (!found) throw new Error(`Job ${namespace}/${jobName} is ${ended} and has no Running pod`);
  agentContainer(found);
  return found;
}

async function getOptional<T>(api: KubeconfigClient, path: string): Promise<T | undefined> {
  const response = await httpsRequest(api.identity, "GET", `${api.server}${path}`);
  if (response.status === 404) return undefined;
  if (response.status !== 200) throw new Error(`GET ${path}: HTTP ${response.status}: ${response.body}`);
  return JSON.parse(response.body) as T;
}

/** A Secret's or ConfigMap's data as text; undefined when it is missing and optional, as the kubelet allows. */
async function sourceData(
  api: KubeconfigClient,
  namespace: string,
  kind: "secrets" | "configmaps",
  source: { name: string; optional?: boolean },
): Promise<Record<string, string> | undefined> {
  const object = await getOptional<{ data?: Record<string, string> }>(api, `/api/v1/namespaces/${namespace}/${kind}/${source.name}`);
  if (!object) {
    if (source.optional) return undefined;
    throw new Error(`${kind} ${namespace}/${source.name} not found: the kubelet would not start the container`);
  }
  const data = object.data ?? {};
  return kind === "configmaps"
    ? data
    : Object.fromEntries(Object.entries(data).map(([key, value]) => [key, Buffer.from(value, "base64").toString()]));
}

// The downward API fields that agent Jobs and the service-account volume use.
function fieldOf(pod: KubeObject, fieldPath: string): string {
  const fields: Record<string, string | undefined> = {
    "metadata.name": pod.metadata.name,
    "metadata.namespace": pod.metadata.namespace,
  };
  const value = fields[fieldPath];
  if (value === undefined) throw new Error(`pod ${nameOf(pod)}: fieldRef ${fieldPath} is not supported here`);
  return value;
}

async function writeFiles(dir: string, files: Array<[string, string]>): Promise<void> {
  for (const [path, content] of files) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content, { mode: 0o600 });
  }
}

async function dataFiles(
  api: KubeconfigClient,
  namespace: string,
  kind: "secrets" | "configmaps",
  source: DataSource,
): Promise<Array<[string, string]>> {
  const data = await sourceData(api, namespace, kind, source);
  if (!data) return [];
  const items = source.items ?? Object.keys(data).map((key) => ({ key, path: key }));
  return items.map(({ key, path }) => {
    const value = data[key];
    if (value === undefined && !source.optional) throw new Error(`${kind} ${namespace}/${source.name} has no key ${key}`);
    return [path, value ?? ""];
  });
}

/** A token of the pod's ServiceAccount bound to the pod, as the kubelet requests for a projected token. */
async function serviceAccountToken(
  api: KubeconfigClient,
  pod: KubeObject,
  source: NonNullable<ProjectedSource["serviceAccountToken"]>,
): Promise<string> {
  const account = (pod.spec?.serviceAccountName as string | undefined) ?? "default";
  const request = {
    apiVersion: "authentication.k8s.io/v1",
    kind: "TokenRequest",
    spec: {
      ...(source.audience ? { audiences: [source.audience] } : {}),
      expirationSeconds: source.expirationSeconds ?? 3600,
      boundObjectRef: { apiVersion: "v1", kind: "Pod", name: pod.metadata.name, uid: pod.metadata.uid },
    },
  };
  const url = `${api.server}/api/v1/namespaces/${pod.metadata.namespace}/serviceaccounts/${account}/token`;
  return (await kubeJSON<{ status: { token: string } }>(api.identity, "POST", url, request)).status.token;
}

async function projectedFiles(api: KubeconfigClient, pod: KubeObject, source: ProjectedSource): Promise<Array<[string, string]>> {
  const namespace = pod.metadata.namespace!;
  if (source.secret) return dataFiles(api, namespace, "secrets", source.secret);
  if (source.configMap) return dataFiles(api, namespace, "configmaps", source.configMap);
  if (source.serviceAccountToken) return [[source.serviceAccountToken.path, await serviceAccountToken(api, pod, source.serviceAccountToken)]];
  if (source.downwardAPI) {
    return (source.downwardAPI.items ?? []).map((item) => {
      if (!item.fieldRef) throw new Error(`pod ${nameOf(pod)}: only fieldRef downward API files are supported here`);
      return [item.path, fieldOf(pod, item.fieldRef.fieldPath)];
    });
  }
  throw new Error(`pod ${nameOf(pod)}: unsupported projected volume source ${Object.keys(source).join(", ")}`);
}

/** Fills `dir` as the kubelet fills the volume; false for kinds that need a mapping from the caller. */
async function materializeVolume(api: KubeconfigClient, pod: KubeObject, volume: Volume, dir: string): Promise<boolean> {
  const namespace = pod.metadata.namespace!;
  let files: Array<[string, string]>;
  if (volume.emptyDir) files = [];
  else if (volume.secret) files = await dataFiles(api, namespace, "secrets", { ...volume.secret, name: volume.secret.secretName });
  else if (volume.configMap) files = await dataFiles(api, namespace, "configmaps", volume.configMap);
  else if (volume.projected) {
    files = (await Promise.all((volume.projected.sources ?? []).map((source) => projectedFiles(api, pod, source)))).flat();
  } else return false;
  await mkdir(dir, { recursive: true });
  await writeFiles(dir, files);
  return true;
}

const covers = (prefix: string, path: string): boolean => path === prefix || path.startsWith(`${prefix}/`);

/** Container path → host path for every mount: the caller's mapping, else a volume filled under `scratch`. */
async function hostPaths(
  api: KubeconfigClient,
  pod: KubeObject,
  container: Container,
  paths: Record<string, string>,
  scratch: string,
): Promise<Record<string, string>> {
  const volumes = new Map(((pod.spec?.volumes ?? []) as Volume[]).map((volume) => [volume.name, volume]));
  const filled = new Map<string, Promise<boolean>>();
  const mounted: Record<string, string> = {};
  const unmapped: string[] = [];
  for (const mount of container.volumeMounts ?? []) {
    if (Object.keys(paths).some((prefix) => covers(prefix, mount.mountPath))) continue;
    const volume = volumes.get(mount.name);
    const dir = join(scratch, "volumes", mount.name);
    if (volume && !filled.has(volume.name)) filled.set(volume.name, materializeVolume(api, pod, volume, dir));
    if (volume && (await filled.get(volume.name))) mounted[mount.mountPath] = join(dir, mount.subPath ?? "");
    else unmapped.push(`${mount.mountPath} (volume ${mount.name})`);
  }
  if (unmapped.length > 0) throw new Error(`pod ${nameOf(pod)}: no host directory for ${unmapped.join(", ")}; map them in paths`);
  return { ...mounted, ...paths };
}

/** Kubelet's $(VAR) expansion: defined names are replaced, others kept; $$ is a literal $. */
function expand(text: string, env: Record<string, string>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (match, name: string | undefined) =>
    match === "$$" ? "$" : name !== undefined && Object.hasOwn(env, name) ? env[name]! : match,
  );
}

/** The container's environment in the kubelet's order: service variables, envFrom, then env (later wins). */
async function containerEnv(api: KubeconfigClient, pod: KubeObject, container: Container): Promise<Record<string, string>> {
  const namespace = pod.metadata.namespace!;
  const apiserver = new URL(api.server);
  // The kubelet points these at the kubernetes Service; a process on this host reaches the apiserver itself.
  const env: Record<string, string> = { KUBERNETES_SERVICE_HOST: apiserver.hostname, KUBERNETES_SERVICE_PORT: apiserver.port || "443" };
  for (const source of container.envFrom ?? []) {
    const data = source.secretRef
      ? await sourceData(api, namespace, "secrets", source.secretRef)
      : source.configMapRef
        ? await sourceData(api, namespace, "configmaps", source.configMapRef)
        : undefined;
    for (const [key, value] of Object.entries(data ?? {})) env[`${source.prefix ?? ""}${key}`] = value;
  }
  for (const variable of container.env ?? []) {
    const from = variable.valueFrom;
    const ref = from?.secretKeyRef ?? from?.configMapKeyRef;
    let value: string | undefined;
    if (ref) {
      const data = await sourceData(api, namespace, from?.secretKeyRef ? "secrets" : "configmaps", ref);
      value = data?.[ref.key];
      if (value === undefined && !ref.optional) throw new Error(`env ${variable.name}: ${ref.name} has no key ${ref.key}`);
    } else if (from?.fieldRef) value = fieldOf(pod, from.fieldRef.fieldPath);
    else if (from) throw new Error(`env ${variable.name}: unsupported valueFrom ${Object.keys(from).join(", ")}`);
    else value = expand(variable.value ?? "", env);
    if (value !== undefined) env[variable.name] = value;
  }
  return env;
}

/** The value of `--flag V` or `--flag=V`. */
function flagValue(argv: string[], flag: string): string | undefined {
  for (const [i, arg] of argv.entries()) {
    if (arg === `--${flag}`) return argv[i + 1];
    if (arg.startsWith(`--${flag}=`)) return arg.slice(flag.length + 3);
  }
  return undefined;
}

function withFlag(argv: string[], flag: string, value: string): string[] {
  return argv.map((arg, i) =>
    argv[i - 1] === `--${flag}` ? value : arg.startsWith(`--${flag}=`) ? `--${flag}=${value}` : arg,
  );
}

// The agent reads its service account's token (and, in-cluster, CA) from SERVICE_ACCOUNT_DIR without naming them on
// its command line, where path rewriting could reach them: name them, so they resolve to the projected volume.
function withReportFiles(argv: string[], mounts: Container["volumeMounts"]): string[] {
  const reportTo = flagValue(argv, "report-to");
  if (!reportTo || !(mounts ?? []).some((mount) => mount.mountPath === SERVICE_ACCOUNT_DIR)) return argv;
  const files: string[] = [];
  if (flagValue(argv, "report-token-file") === undefined) files.push(`--report-token-file=${SERVICE_ACCOUNT_DIR}/token`);
  if (reportTo === "in-cluster" && flagValue(argv, "report-ca-file") === undefined) {
    files.push(`--report-ca-file=${SERVICE_ACCOUNT_DIR}/ca.crt`);
  }
  return [...argv, ...files];
}

function withServices(argv: string[], services: HostMapping["services"], pod: KubeObject): string[] {
  const host = flagValue(argv, "host");
  if (host === undefined) return argv;
  const target = services[host];
  if (!target) throw new Error(`pod ${nameOf(pod)}: --host ${host} is not in services (${Object.keys(services).join(", ") || "none"})`);
  return withFlag(withFlag(argv, "host", target.host), "port", String(target.port));
}

/** Rewrites container paths that start an argument or follow `=` or `:` (as in fs:/path), longest prefix first. */
function withHostPaths(argv: string[], paths: Record<string, string>): string[] {
  const prefixes = Object.keys(paths).sort((a, b) => b.length - a.length);
  if (prefixes.length === 0) return argv;
  const escaped = prefixes.map((prefix) => prefix.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  const pattern = new RegExp(`(^|[=:])(${escaped.join("|")})(?=/|$)`, "g");
  return argv.map((arg) => arg.replace(pattern, (_, lead: string, prefix: string) => `${lead}${paths[prefix]}`));
}

interface ProcessResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** stdout and stderr interleaved as written, for the termination message's log fallback. */
  log: string;
}

function runProcess(argv: string[], env: Record<string, string>): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, argv, { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let log = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => ((stdout += chunk), (log += chunk)));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => ((stderr += chunk), (log += chunk)));
    child.on("error", reject);
    child.on("close", (code, signal) => {
      // As a container runtime reports it: 128 + the signal's number.
      const exitCode = code ?? 128 + (signal ? constants.signals[signal] : 0);
      resolve({ exitCode, stdout, stderr, log });
    });
  });
}

async function terminationMessage(file: string, container: Container, result: ProcessResult): Promise<string> {
  const written = (await readFile(file)).subarray(0, MAX_TERMINATION_MESSAGE_BYTES).toString();
  if (written || result.exitCode === 0 || container.terminationMessagePolicy !== "FallbackToLogsOnError") return written;
  const lines = result.log.replace(/\n$/, "").split("\n").slice(-FALLBACK_LOG_LINES).join("\n");
  return Buffer.from(lines).subarray(0, FALLBACK_LOG_BYTES).toString();
}

function parseLastLine(stdout: string): unknown {
  const line = stdout.trimEnd().split("\n").at(-1);
  if (!line) return undefined;
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}

/** Writes the status the kubelet writes when the pod's only container exits (restartPolicy Never). */
async function reportTermination(api: KubeconfigClient, pod: KubeObject, terminated: Terminated): Promise<void> {
  const url = `${api.server}${podPath(pod.metadata.namespace!, pod.metadata.name)}`;
  const container = agentContainer(pod);
  for (;;) {
    const current = await getOptional<KubeObject>(api, podPath(pod.metadata.namespace!, pod.metadata.name));
    // Deleted while its container ran (its Job was deleted once the agent had reported): as for a kubelet, there is
    // no status left to write.
    if (!current || current.metadata.deletionTimestamp) return;
    if (current.metadata.uid !== pod.metadata.uid) throw new Error(`pod ${nameOf(pod)} was replaced`);
    if (current.status?.phase !== "Running") {
      throw new Error(`pod ${nameOf(pod)} is ${current.status?.phase}, not Running: only a started container can exit`);
    }
    const statuses = (current.status.containerStatuses ?? []) as ContainerStatus[];
    const previous = statuses.find((status) => status.name === container.name);
    const { exitCode, message } = terminated;
    const status = {
      ...current.status,
      phase: exitCode === 0 ? "Succeeded" : "Failed",
      conditions: ((current.status.conditions ?? []) as Array<{ type: string }>).map((condition) =>
        condition.type === "Ready" || condition.type === "ContainersReady"
          ? { ...condition, status: "False", reason: "PodCompleted", lastTransitionTime: terminated.finishedAt }
          : condition,
      ),
      containerStatuses: [
        {
          ...previous,
          name: container.name,
          image: previous?.["image"] ?? container.image,
          ready: false,
          started: false,
          restartCount: 0,
          state: {
            terminated: {
              exitCode,
              reason: exitCode === 0 ? "Completed" : "Error",
              ...(message ? { message } : {}),
              startedAt: terminated.startedAt ?? previous?.state?.running?.startedAt ?? terminated.finishedAt,
              finishedAt: terminated.finishedAt,
            },
          },
        },
      ],
    };
    // resourceVersion from the read: a concurrent writer (kwok) makes this a 409, and the status is computed again.
    const response = await httpsRequest(api.identity, "PUT", `${url}/status`, { ...current, status });
    if (response.status === 409) continue;
    if (response.status !== 200) throw new Error(`PUT ${url}/status: HTTP ${response.status}: ${response.body}`);
    return;
  }
}

/**
 * Runs the pod's container as the kubelet would, with `strongroom` as `node <repository>/src/cli/main.ts`, and writes
 * the pod's status from its exit: phase Succeeded or Failed, the container terminated with the exit code, reason
 * Completed or Error and the termination message (the file at terminationMessagePath, or the log's tail with
 * FallbackToLogsOnError). The Job controller then does the rest.
 */
export async function runAgentPod(kubeconfig: string, pod: KubeObject, mapping: HostMapping): Promise<AgentPodRun> {
  const api = await readKubeconfig(kubeconfig);
  const container = agentContainer(pod);
  const [program, ...commandArgs] = container.command ?? [];
  if (program !== "strongroom") throw new Error(`pod ${nameOf(pod)} runs ${program ?? "the image's entrypoint"}, not strongroom`);
  const scratch = await mkdtemp(join(tmpdir(), "strongroom-agent-pod-"));
  try {
    const terminationFile = join(scratch, "termination-log");
    await writeFile(terminationFile, "");
    const paths = {
      ...(await hostPaths(api, pod, container, mapping.paths, scratch)),
      [container.terminationMessagePath ?? DEFAULT_TERMINATION_MESSAGE_PATH]: terminationFile,
    };
    const env = await containerEnv(api, pod, container);
    let argv = [...commandArgs, ...(container.args ?? [])].map((arg) => expand(arg, env));
    argv = withHostPaths(withServices(withReportFiles(argv, container.volumeMounts), mapping.services, pod), paths);
    const startedAt = timestamp();
    // PATH from this host: the agent runs the engines' client tools installed here.
    const result = await runProcess([CLI_MAIN, ...argv], { PATH: process.env["PATH"] ?? "", ...env, ...mapping.env });
    const message = await terminationMessage(terminationFile, container, result);
    await reportTermination(api, pod, { exitCode: result.exitCode, message, startedAt, finishedAt: timestamp() });
    return { exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr, lastLine: parseLastLine(result.stdout) };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** Ends an agent pod without running it, as the kubelet reports a container's exit (for orchestration tests). */
export async function finishAgentPod(
  kubeconfig: string,
  pod: KubeObject,
  result: { exitCode: number; message?: string },
): Promise<void> {
  const api = await readKubeconfig(kubeconfig);
  await reportTermination(api, pod, { exitCode: result.exitCode, message: result.message ?? "", finishedAt: timestamp() });
}
