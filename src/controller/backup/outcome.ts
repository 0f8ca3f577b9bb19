// What an agent Job came to, from the Job's conditions and its pods' termination messages. The agent writes its last
// JSON line to the termination message (see src/agent/command.ts), so the controller can tell what an agent that
// could not reach the API (or a restore agent, which never reports) did: the archive it completed, or why it failed.
import type { KubeObject } from '../../api/meta.ts';
import { jobState, type JobState } from '../database/observed.ts';

/** The agent's final line for a completed backup. */
export interface ArchiveResult {
  sizeBytes: number;
  sha256: string;
  location: string;
  engine?: string;
  engineVersion?: string;
  method?: string;
}

export interface AgentOutcome {
  state: JobState;
  /** The final line of the newest pod that finished, parsed, when it is a JSON object. */
  result?: Record<string, unknown>;
  /** Why the Job failed, for people: the agent's own error, else the Job controller's reason and message. */
  failure?: string;
  /** When the newest pod's container finished. */
  finishedAt?: string;
}

interface Terminated {
  exitCode?: number;
  message?: string;
  reason?: string;
  finishedAt?: string;
}

function terminatedOf(pod: KubeObject): Terminated | undefined {
  const statuses = (pod.status?.containerStatuses ?? []) as Array<{ state?: { terminated?: Terminated } }>;
  return statuses.find((status) => status.state?.terminated)?.state?.terminated;
}

function parseLine(message: string | undefined): Record<string, unknown> | undefined {
  const line = message?.trim().split('\n').at(-1);
  if (!line) return undefined;
  try {
    const value: unknown = JSON.parse(line);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The Job's state and what its newest finished pod said. `pods` may include other Jobs' pods: they are ignored. */
export function agentOutcome(job: KubeObject, pods: readonly KubeObject[]): AgentOutcome {
  const state = jobState(job);
  const finished = pods
    .filter((pod) => pod.metadata.labels?.['job-name'] === job.metadata.name && terminatedOf(pod))
    .map((pod) => terminatedOf(pod)!)
    .sort((a, b) => (a.finishedAt ?? '').localeCompare(b.finishedAt ?? ''));
  const last = finished.at(-1);
  const result = parseLine(last?.message);
  const outcome: AgentOutcome = { state };
  if (result) outcome.result = result;
  if (last?.finishedAt) outcome.finishedAt = last.finishedAt;
  if (state === 'failed') {
    const conditions = (job.status?.conditions ?? []) as Array<{ type: string; status: string; reason?: string; message?: string }>;
    const failed = conditions.find((c) => c.type === 'Failed' && c.status === 'True');
    const agentError = typeof result?.['error'] === 'string' ? (result['error'] as string) : undefined;
    const jobReason = [failed?.reason, failed?.message].filter(Boolean).join(': ');
    outcome.failure = agentError ? `${agentError} (Job ${job.metadata.name}: ${jobReason || 'failed'})` : `Job ${job.metadata.name} failed: ${jobReason || 'no reason given'}`;
  }
  return outcome;
}

/** The archive a backup agent's final line describes, when it describes a complete one. */
export function archiveResult(result: Record<string, unknown> | undefined): ArchiveResult | undefined {
  if (!result) return undefined;
  const { sizeBytes, sha256, location, engine, engineVersion, method } = result;
  if (typeof sizeBytes !== 'number' || typeof sha256 !== 'string' || !/^[a-f0-9]{64}$/.test(sha256) || typeof location !== 'string') return undefined;
  const archive: ArchiveResult = { sizeBytes, sha256, location };
  if (typeof engine === 'string') archive.engine = engine;
  if (typeof engineVersion === 'string') archive.engineVersion = engineVersion;
  if (typeof method === 'string') archive.method = method;
  return archive;
}
