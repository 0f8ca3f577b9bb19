// Client-certificate kubeconfigs with the certificates embedded, so one file is all kubectl or a component needs.
import { readFile } from "node:fs/promises";
import { parse, stringify } from "yaml";
import type { TLSIdentity } from "./client.ts";
import type { KeyPair } from "./pki.ts";

export interface KubeconfigInput {
  server: string;
  caCertPem: string;
  user: string;
  client: KeyPair;
}

const base64 = (pem: string): string => Buffer.from(pem).toString("base64");

export function renderKubeconfig(input: KubeconfigInput): string {
  const context = `${input.user}@strongroom-local`;
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      { name: "strongroom-local", cluster: { server: input.server, "certificate-authority-data": base64(input.caCertPem) } },
    ],
    users: [
      {
        name: input.user,
        user: {
          "client-certificate-data": base64(input.client.certPem),
          "client-key-data": base64(input.client.keyPem),
        },
      },
    ],
    contexts: [{ name: context, context: { cluster: "strongroom-local", user: input.user } }],
    "current-context": context,
  });
}

interface Kubeconfig {
  clusters?: Array<{ name: string; cluster: { server: string; "certificate-authority-data"?: string } }>;
  users?: Array<{ name: string; user: { "client-certificate-data"?: string; "client-key-data"?: string } }>;
  contexts?: Array<{ name: string; context: { cluster: string; user: string } }>;
  "current-context"?: string;
}

export interface KubeconfigClient {
  server: string;
  identity: TLSIdentity;
}

const fromBase64 = (data: string | undefined): string | undefined =>
  data === undefined ? undefined : Buffer.from(data, "base64").toString();

/** The server and identity of a kubeconfig's current context, for kubeJSON; only embedded certificates, as rendered above. */
export async function readKubeconfig(path: string): Promise<KubeconfigClient> {
  const config = parse(await readFile(path, "utf8")) as Kubeconfig;
  const context = config.contexts?.find((entry) => entry.name === config["current-context"])?.context;
  const cluster = config.clusters?.find((entry) => entry.name === context?.cluster)?.cluster;
  const user = config.users?.find((entry) => entry.name === context?.user)?.user;
  const caPem = fromBase64(cluster?.["certificate-authority-data"]);
  const certPem = fromBase64(user?.["client-certificate-data"]);
  const keyPem = fromBase64(user?.["client-key-data"]);
  if (!cluster || !caPem || !certPem || !keyPem) {
    throw new Error(`${path}: the current context needs a server with certificate-authority-data and a user with client-certificate-data and client-key-data`);
  }
  return { server: cluster.server, identity: { caPem, client: { certPem, keyPem } } };
}
