// A real etcd on 127.0.0.1 for the storage and server tests: the control plane's binary (test/cluster/build.ts),
// random ports, a temporary data directory, and optionally TLS that demands client certificates, as a production etcd
// does. The member is killed, not stopped: its data is thrown away, and a graceful stop waits seconds for the
// clients' watch streams.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBinaries } from '../cluster/build.ts';
import { freePort } from '../cluster/harness.ts';
import { createCertificateAuthority } from '../cluster/pki.ts';
import { startProcess, waitUntil } from '../cluster/process.ts';

export interface EtcdServer {
  /** The client URL, for EtcdStorageOptions.servers. */
  url: string;
  /** With `tls`: the PEM files a client needs (CA, client certificate and key). */
  tls?: { caFile: string; certFile: string; keyFile: string };
  /** Stops the member and starts it again on the same data and ports: clients see their connections break. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

const loopback = '127.0.0.1';

export async function startEtcd(options: { tls?: boolean } = {}): Promise<EtcdServer> {
  const { etcd } = await ensureBinaries();
  const dir = await mkdtemp(join(tmpdir(), 'strongroom-etcd-'));
  const [clientPort, peerPort, metricsPort] = await Promise.all([freePort(), freePort(), freePort()]);
  const scheme = options.tls ? 'https' : 'http';
  const url = `${scheme}://${loopback}:${clientPort}`;
  const args = [
    '--name=test',
    `--data-dir=${join(dir, 'data')}`,
    `--listen-client-urls=${url}`,
    `--advertise-client-urls=${url}`,
    `--listen-peer-urls=http://${loopback}:${peerPort}`,
    `--initial-advertise-peer-urls=http://${loopback}:${peerPort}`,
    `--initial-cluster=test=http://${loopback}:${peerPort}`,
    // Plain HTTP /health whatever the client port speaks.
    `--listen-metrics-urls=http://${loopback}:${metricsPort}`,
    // Throw-away data: fsync buys nothing and slows every write on a shared disk.
    '--unsafe-no-fsync',
    '--log-level=warn',
  ];
  let tls: EtcdServer['tls'];
  if (options.tls) {
    const ca = createCertificateAuthority('strongroom-test-etcd-ca');
    const server = ca.issue({ commonName: 'etcd', usage: 'server', ipAddresses: [loopback] });
    const client = ca.issue({ commonName: 'strongroom', usage: 'client' });
    const file = async (name: string, pem: string) => {
      const path = join(dir, name);
      await writeFile(path, pem, { mode: 0o600 });
      return path;
    };
    tls = { caFile: await file('ca.crt', ca.certPem), certFile: await file('client.crt', client.certPem), keyFile: await file('client.key', client.keyPem) };
    args.push(
      `--cert-file=${await file('server.crt', server.certPem)}`,
      `--key-file=${await file('server.key', server.keyPem)}`,
      `--trusted-ca-file=${tls.caFile}`,
      '--client-cert-auth',
    );
  }
  const start = () => startProcess('etcd', etcd, args, { logPath: join(dir, 'etcd.log') });
  let member = start();
  const healthy = () =>
    waitUntil(
      'etcd /health',
      async () => {
        const response = await fetch(`http://${loopback}:${metricsPort}/health`);
        return response.ok && ((await response.json()) as { health: string }).health === 'true';
      },
      { timeoutMs: 30_000, processes: [member] },
    );
  const stop = async () => {
    await member.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await healthy();
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    url,
    tls,
    async restart() {
      await member.kill('SIGKILL');
      member = start();
      await healthy();
    },
    stop,
  };
}
