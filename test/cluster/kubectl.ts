// Runs kubectl of the control plane's own release (built by build.ts) against a given kubeconfig: tests drive the
// cluster the way a user does.
import { execFile } from "node:child_process";
import { ensureKubectl } from "./build.ts";

const kubectlBinary = await ensureKubectl();

export function kubectl(kubeconfig: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(kubectlBinary, [`--kubeconfig=${kubeconfig}`, ...args], (error, stdout, stderr) =>
      error ? reject(new Error(`kubectl ${args.join(" ")}: ${stderr.trim() || error.message}`)) : resolve(stdout),
    );
    child.stdin?.end(input);
  });
}
