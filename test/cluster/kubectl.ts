// Runs the installed kubectl against a given kubeconfig: tests drive the cluster the way a user does.
import { execFile } from "node:child_process";

export function kubectl(kubeconfig: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile("kubectl", [`--kubeconfig=${kubeconfig}`, ...args], (error, stdout, stderr) =>
      error ? reject(new Error(`kubectl ${args.join(" ")}: ${stderr.trim() || error.message}`)) : resolve(stdout),
    );
    child.stdin?.end(input);
  });
}
