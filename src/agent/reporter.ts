// Reporting a backup's progress and outcome to its Backup object, as merge patches of the status subresource. The
// data path never waits for the API: progress is sent at most every two seconds, one request at a time, and a
// failed progress report is only logged. The final report is retried, since it is what makes the Backup Completed.
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { BackupStatus } from '../api/backup.ts';
import { GROUP, VERSION } from '../api/meta.ts';
import type { Progress } from './progress.ts';
import { retry } from '../util/backoff.ts';

export type StatusPatch = Partial<BackupStatus>;

/** Applies one merge patch to the Backup's status. Tests capture these. */
export interface StatusReporter {
  patch(status: StatusPatch): Promise<void>;
}

export interface KubernetesReporterOptions {
  /** https://host:port of the Kubernetes API (http:// only for tests on loopback). */
  server: string;
  token: string;
  /** PEM bundle to trust instead of the system's. */
  ca?: Buffer;
  namespace: string;
  backup: string;
}

const REQUEST_TIMEOUT_MS = 10_000;

/** PATCH /apis/strongroom.dev/v1alpha1/namespaces/NS/backups/NAME/status with application/merge-patch+json. */
export class KubernetesStatusReporter implements StatusReporter {
  readonly #url: URL;
  readonly #options: KubernetesReporterOptions;

  constructor(options: KubernetesReporterOptions) {
    this.#options = options;
    this.#url = new URL(
      `/apis/${GROUP}/${VERSION}/namespaces/${encodeURIComponent(options.namespace)}/backups/${encodeURIComponent(options.backup)}/status`,
      options.server,
    );
  }

  patch(status: StatusPatch): Promise<void> {
    const body = Buffer.from(JSON.stringify({ status }));
    const request = this.#url.protocol === 'http:' ? httpRequest : httpsRequest;
    return new Promise((resolve, reject) => {
      const req = request(
        this.#url,
        {
          method: 'PATCH',
          headers: {
            'Content-Type': 'application/merge-patch+json',
            Accept: 'application/json',
            Authorization: `Bearer ${this.#options.token}`,
            'Content-Length': body.length,
            'User-Agent': 'strongroom-agent',
          },
          ca: this.#options.ca,
          timeout: REQUEST_TIMEOUT_MS,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            if ((res.statusCode ?? 0) < 300) return resolve();
            let message = Buffer.concat(chunks).toString('utf8');
            try {
              message = JSON.parse(message).message ?? message;
            } catch {
              // not a Status: keep the text
            }
            reject(new Error(`PATCH ${this.#url.pathname} answered ${res.statusCode}: ${message.slice(0, 500)}`));
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`PATCH ${this.#url.pathname} timed out`)));
      req.on('error', reject);
      req.end(body);
    });
  }
}

/** The service account's token and CA, as a pod has them mounted. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export function inClusterServer(env: NodeJS.ProcessEnv = process.env): string {
  const host = env['KUBERNETES_SERVICE_HOST'];
  const port = env['KUBERNETES_SERVICE_PORT'] ?? '443';
  if (!host) throw new Error('--report-to in-cluster: KUBERNETES_SERVICE_HOST is not set (not in a pod?)');
  return `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

export function readCa(path: string | undefined): Buffer | undefined {
  return path ? readFileSync(path) : undefined;
}

/** Sends progress at most once per interval and one request at a time; the data path never waits for it. */
export class ProgressThrottle {
  readonly #reporter: StatusReporter;
  readonly #intervalMs: number;
  readonly #now: () => number;
  readonly #warn: (message: string) => void;
  #lastSent = -Infinity;
  #inFlight: Promise<void> | undefined;

  constructor(reporter: StatusReporter, options: { intervalMs?: number; now?: () => number; warn?: (message: string) => void } = {}) {
    this.#reporter = reporter;
    this.#intervalMs = options.intervalMs ?? 2000;
    this.#now = options.now ?? Date.now;
    this.#warn = options.warn ?? (() => {});
  }

  progress(progress: Progress): void {
    const now = this.#now();
    if (this.#inFlight || now - this.#lastSent < this.#intervalMs) return;
    this.#lastSent = now;
    this.#inFlight = this.#reporter
      .patch({ progress })
      .catch((error: Error) => this.#warn(`progress report failed: ${error.message}`))
      .finally(() => (this.#inFlight = undefined));
  }

  /** Waits for a progress report under way, so it cannot land after the final one. */
  async settle(): Promise<void> {
    await this.#inFlight;
  }
}

/** The final report, retried with backoff: 3 attempts over about 3 seconds. */
export function reportFinal(reporter: StatusReporter, status: StatusPatch, attempts = 3): Promise<void> {
  return retry(() => reporter.patch(status), { backoff: { initialMs: 1000, jitter: 0 }, attempts });
}
