// The strongroom command: `serve` runs the API server; `openapi --write DIR` and `rbac --write FILE` regenerate the
// checked-in OpenAPI documents and user roles; `agent` is what backup and restore Jobs run (src/agent/command.ts).
import { parseArgs } from 'node:util';
import { etcdOptionsFromFlags, STORAGE_OPTIONS } from './storage.ts';

const USAGE = `Usage:
  strongroom serve [--bind-address 127.0.0.1] [--secure-port 8443] [--data-dir .strongroom]
                   [--tls-cert-file F --tls-private-key-file F --client-ca-file F] [--log-level info]
                   [--kubeconfig FILE] [--controllers=true] [--leader-elect-resource-namespace strongroom-system]
                   [--agent-image IMAGE] [--image-catalog FILE]
                   [--storage sqlite|etcd] [--etcd-servers URL,... [--etcd-prefix /registry/strongroom.dev/]
                    [--etcd-cafile F] [--etcd-certfile F --etcd-keyfile F]]
  strongroom openapi --write DIR
  strongroom rbac [--write FILE]
  strongroom agent backup|restore|list|delete ...   (what backup and restore Jobs run; see agent --help)

Environment: STRONGROOM_BIND_ADDRESS, STRONGROOM_SECURE_PORT, STRONGROOM_DATA_DIR, STRONGROOM_LOG_LEVEL,
STRONGROOM_AGENT_IMAGE, STRONGROOM_IMAGE_CATALOG.

serve runs in cluster mode with --kubeconfig, or in a pod (KUBERNETES_SERVICE_HOST and a service-account token):
authentication (front proxy, client certificates, bearer tokens), authorization and namespaces are then the
cluster's, and --client-ca-file replaces the cluster's client CA. Otherwise it runs standalone: its own client CA,
and only system:masters may do anything.

--storage=sqlite (the default) keeps objects in <data-dir>/strongroom.db: one replica. --storage=etcd keeps them in
the etcd cluster at --etcd-servers (mTLS with the --etcd-* files, as kube-apiserver's flags), which any number of
replicas share.

In cluster mode the replica holding the Lease strongroom-controller (in --leader-elect-resource-namespace) also runs
the controllers that turn Databases into workloads and run backups and restores; --controllers=false serves the API
only. Backup and restore Jobs run --agent-image (default: this release's image), which must hold this program as
\`strongroom\` and the engines' client tools. --image-catalog names the images of each engine version and of the
agent (YAML: engines: {postgres: {"17": IMAGE}}, agent: IMAGE); the ConfigMap strongroom-images (key catalog.yaml) in
--leader-elect-resource-namespace overrides it entry by entry. Without either, engines run their official images.`;

async function serve(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      'bind-address': { type: 'string', default: process.env['STRONGROOM_BIND_ADDRESS'] ?? '127.0.0.1' },
      'secure-port': { type: 'string', default: process.env['STRONGROOM_SECURE_PORT'] ?? '8443' },
      'data-dir': { type: 'string', default: process.env['STRONGROOM_DATA_DIR'] ?? '.strongroom' },
      'tls-cert-file': { type: 'string' },
      'tls-private-key-file': { type: 'string' },
      'client-ca-file': { type: 'string' },
      'log-level': { type: 'string', default: process.env['STRONGROOM_LOG_LEVEL'] ?? 'info' },
      kubeconfig: { type: 'string' },
      controllers: { type: 'string', default: 'true' },
      'leader-elect-resource-namespace': { type: 'string' },
      'agent-image': { type: 'string', default: process.env['STRONGROOM_AGENT_IMAGE'] },
      'image-catalog': { type: 'string', default: process.env['STRONGROOM_IMAGE_CATALOG'] },
      ...STORAGE_OPTIONS,
    },
  });
  if (values.controllers !== 'true' && values.controllers !== 'false') throw new Error(`--controllers: true or false, not ${values.controllers}`);
  const port = Number(values['secure-port']);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--secure-port: not a port: ${values['secure-port']}`);
  const certFlags = [values['tls-cert-file'], values['tls-private-key-file']].filter(Boolean).length;
  if (certFlags === 1) throw new Error('--tls-cert-file and --tls-private-key-file go together');
  // Loaded on demand so `openapi` does not pull in the whole server.
  const { startServer } = await import('../server/server.ts');
  const { loadClusterConfig } = await import('../server/delegation/cluster.ts');
  const server = await startServer({
    bindAddress: values['bind-address']!,
    port,
    dataDir: values['data-dir']!,
    tlsCertFile: values['tls-cert-file'],
    tlsKeyFile: values['tls-private-key-file'],
    clientCAFile: values['client-ca-file'],
    cluster: loadClusterConfig(values.kubeconfig),
    etcd: etcdOptionsFromFlags(values),
    controllers: values.controllers === 'true',
    leaseNamespace: values['leader-elect-resource-namespace'],
    agentImage: values['agent-image'],
    imageCatalogFile: values['image-catalog'],
    logLevel: values['log-level'],
  });
  if (server.kubeconfigPath) {
    process.stderr.write(`\nStrongroom is serving on ${server.url}\n  kubectl --kubeconfig ${server.kubeconfigPath} get databases\n\n`);
  }
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    server.logger.info({ signal }, 'shutting down');
    await server.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      return serve(rest);
    case 'openapi': {
      const { values } = parseArgs({ args: rest, options: { write: { type: 'string' } } });
      if (!values.write) throw new Error('openapi: --write DIR is required');
      const { writeOpenAPIDocuments } = await import('../api/openapi.ts');
      writeOpenAPIDocuments(values.write);
      return;
    }
    case 'rbac': {
      const { values } = parseArgs({ args: rest, options: { write: { type: 'string' } } });
      const { userRolesManifest, writeUserRolesManifest } = await import('../api/rbac.ts');
      if (values.write) writeUserRolesManifest(values.write);
      else process.stdout.write(userRolesManifest());
      return;
    }
    case 'agent': {
      // SIGTERM (a Job's deadline or deletion) aborts the run cleanly: the tool is stopped, the partial archive removed.
      const abort = new AbortController();
      for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => abort.abort(signal));
      const { agentMain } = await import('../agent/command.ts');
      const status = await agentMain(rest, {
        env: process.env,
        stdout: (line) => process.stdout.write(`${line}\n`),
        stderr: (line) => process.stderr.write(`${line}\n`),
        signal: abort.signal,
      });
      // Pooled S3 connections must not keep a finished Job's pod running (stdout to a pipe or file is synchronous).
      process.exit(status);
    }
    default:
      process.stderr.write(`${USAGE}\n`);
      process.exitCode = command === undefined || command === 'help' || command === '--help' ? 0 : 2;
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`strongroom: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
