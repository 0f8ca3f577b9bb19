// The real node's network: a network namespace created for the run, joined to the host by a veth pair. containerd,
// kubelet, kube-proxy and CoreDNS run inside it, so the pod bridge, the pods' veths and every iptables rule kube-proxy
// and the portmap plugin write live in that namespace and vanish with it. The host side gets one address, one route
// to the pods and a forwarder to the loopback apiserver; nothing else on the host changes.
//
// Addresses come from the documentation ranges of RFC 5737, which no real network routes: the link is a /30 of
// TEST-NET-3 (203.0.113.0/24) and the pods a /26 of TEST-NET-2 (198.51.100.0/24). The namespace name is the lock on a
// slot, so up to four runs (test files run in parallel) each get their own link, pod subnet and route.
import { once } from "node:events";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { runCommand } from "./process.ts";

export interface NodeNetwork {
  /** Name under /run/netns. */
  namespace: string;
  /** The host's end of the link: kubelet, kube-proxy and CoreDNS reach the apiserver's forwarder here. */
  hostAddress: string;
  /** The node's end: its InternalIP (kubelet serves here) and cluster DNS. */
  nodeAddress: string;
  /** The pods' subnet, routed from the host through the node so the apiserver reaches pod IPs (aggregator, proxy). */
  podSubnet: string;
  /** `command args` run inside the namespace (network only: mounts stay shared with the host, as kubelet needs). */
  enter(command: string, args: string[]): { command: string; args: string[] };
  /** Accepts connections on hostAddress:`port` and relays them to 127.0.0.1:`port` (the apiserver binds loopback). */
  forwardToLoopback(port: number): Promise<void>;
  /** Closes the forwarders and deletes the namespace, which takes the veth pair and the route with it. Idempotent. */
  remove(): Promise<void>;
}

const slots = 4;
const namespacePrefix = "strongroom-node-";

function slotAddresses(slot: number) {
  return {
    hostAddress: `203.0.113.${slot * 4 + 1}`,
    nodeAddress: `203.0.113.${slot * 4 + 2}`,
    podSubnet: `198.51.100.${slot * 64}/26`,
  };
}

/** The namespace names this module may create, for cleanliness checks. */
export const nodeNamespaceNames = Array.from({ length: slots }, (_, slot) => `${namespacePrefix}${slot}`);

async function claimSlot(): Promise<number> {
  for (let slot = 0; slot < slots; slot++) {
    // `ip netns add` fails when the name exists: creating it is the atomic claim.
    if (await runCommand("ip", ["netns", "add", `${namespacePrefix}${slot}`]).then(() => true, () => false)) return slot;
  }
  throw new Error(`all ${slots} node network slots are taken (ip netns list shows ${namespacePrefix}N of other runs)`);
}

export async function createNodeNetwork(): Promise<NodeNetwork> {
  const slot = await claimSlot();
  const namespace = `${namespacePrefix}${slot}`;
  const { hostAddress, nodeAddress, podSubnet } = slotAddresses(slot);
  const hostLink = `sr${slot}-host`;
  const nodeLink = `sr${slot}-node`;
  const netnsPath = `/run/netns/${namespace}`;
  const enter = (command: string, args: string[]) => ({ command: "nsenter", args: [`--net=${netnsPath}`, "--", command, ...args] });
  const inside = (command: string, args: string[]) => {
    const entered = enter(command, args);
    return runCommand(entered.command, entered.args);
  };
  const servers: Server[] = [];
  const sockets = new Set<Socket>();
  let removed: Promise<void> | undefined;
  const remove = (): Promise<void> =>
    (removed ??= (async () => {
      for (const socket of sockets) socket.destroy();
      await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
      // The route goes with the host link, and the host link with its peer inside the namespace.
      await runCommand("ip", ["netns", "delete", namespace]);
    })());

  try {
    await runCommand("ip", ["link", "add", hostLink, "type", "veth", "peer", "name", nodeLink, "netns", namespace]);
    await runCommand("ip", ["address", "add", `${hostAddress}/30`, "dev", hostLink]);
    await runCommand("ip", ["link", "set", hostLink, "up"]);
    await runCommand("ip", ["-n", namespace, "address", "add", `${nodeAddress}/30`, "dev", nodeLink]);
    await runCommand("ip", ["-n", namespace, "link", "set", nodeLink, "up"]);
    await runCommand("ip", ["-n", namespace, "link", "set", "lo", "up"]);
    // No default route inside: the node reaches the host's end of the link and nothing beyond it.
    await runCommand("ip", ["route", "add", podSubnet, "via", nodeAddress, "dev", hostLink]);
    // Per-namespace sysctls: the node routes between its link and the pod bridge, and bridged pod traffic passes
    // iptables so a pod reaching a Service backed by a pod on the same bridge is un-NATed on the way back.
    await inside("sysctl", ["-q", "-w", "net.ipv4.ip_forward=1", "net.bridge.bridge-nf-call-iptables=1"]);
  } catch (error) {
    await remove().catch(() => {});
    throw error;
  }

  return {
    namespace,
    hostAddress,
    nodeAddress,
    podSubnet,
    enter,
    async forwardToLoopback(port) {
      const server = createServer((client) => {
        const upstream = createConnection({ host: "127.0.0.1", port });
        for (const socket of [client, upstream]) {
          sockets.add(socket);
          socket.on("close", () => sockets.delete(socket));
          socket.on("error", () => {
            client.destroy();
            upstream.destroy();
          });
        }
        client.pipe(upstream).pipe(client);
      });
      servers.push(server);
      server.listen(port, hostAddress);
      await once(server, "listening");
    },
    remove,
  };
}
