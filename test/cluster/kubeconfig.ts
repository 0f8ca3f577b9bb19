// Client-certificate kubeconfigs with the certificates embedded, so one file is all kubectl or a component needs.
import { stringify } from "yaml";
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
