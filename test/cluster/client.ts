// A minimal JSON-over-HTTPS client for the harness's own calls (health probes, fake Nodes, volumes): mutual TLS with
// PEMs in memory, and nothing else, so starting the control plane does not depend on kubectl or a client library.
import { request } from "node:https";

export interface TLSIdentity {
  caPem: string;
  /** Absent for anonymous probes of components' health endpoints. */
  client?: { certPem: string; keyPem: string };
}

export interface Response {
  status: number;
  body: string;
}

export function httpsRequest(
  identity: TLSIdentity,
  method: string,
  url: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method,
        ca: identity.caPem,
        cert: identity.client?.certPem,
        key: identity.client?.keyPem,
        headers: payload === undefined ? headers : { "content-type": "application/json", ...headers },
        timeout: 10_000,
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (text += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`${method} ${url} timed out`)));
    req.on("error", reject);
    req.end(payload);
  });
}

/** Sends a JSON request and parses the answer; any non-2xx status is an error carrying the server's Status. */
export async function kubeJSON<T>(identity: TLSIdentity, method: string, url: string, body?: unknown): Promise<T> {
  const response = await httpsRequest(identity, method, url, body);
  if (response.status < 200 || response.status >= 300) {
    throw new Error(`${method} ${url}: HTTP ${response.status}: ${response.body}`);
  }
  return JSON.parse(response.body) as T;
}
