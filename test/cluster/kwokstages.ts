// kwok's --config for the local control plane: our own pod Stages, which behave like kwok's built-in "fast" ones
// (kustomize/stage/pod/fast in kwok) except that the pods of backup and restore Jobs are never completed by kwok.
// Those pods' containers are Strongroom's agent, which the tests run on the host (agentpods.ts) and whose result they
// report in the pod's status, as a kubelet would. kwok falls back to its built-in pod Stages only when the config holds
// no pod Stage at all, so all three are here; node Stages are left to kwok's defaults.
import { stringify } from "yaml";
import { BACKUP_AGENT_ROLE, ROLE_LABEL } from "../../src/engines/common.ts";

interface MatchExpression {
  key: string;
  operator: "In" | "NotIn" | "Exists" | "DoesNotExist";
  values?: string[];
}

function podStage(name: string, matchExpressions: MatchExpression[], next: object): object {
  return {
    apiVersion: "kwok.x-k8s.io/v1alpha1",
    kind: "Stage",
    metadata: { name },
    spec: { resourceRef: { apiGroup: "v1", kind: "Pod" }, selector: { matchExpressions }, next },
  };
}

const notDeleted: MatchExpression = { key: ".metadata.deletionTimestamp", operator: "DoesNotExist" };

// A scheduled pod starts at once: every condition true, every container running, init containers done (sidecars,
// restartPolicy Always, running), and an IP from --cidr. The missing podIP is what marks a pod kwok has not started.
const runningStatus = `{{ $now := Now }}
phase: Running
startTime: {{ $now | Quote }}
hostIP: {{ NodeIPWith .spec.nodeName | Quote }}
podIP: {{ PodIPWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid "" ) ( or .metadata.name "" ) ( or .metadata.namespace "" ) | Quote }}
conditions:
{{ range $type := list "Initialized" "Ready" "ContainersReady" }}
- type: {{ $type }}
  status: "True"
  lastTransitionTime: {{ $now | Quote }}
{{ end }}
{{ range .spec.readinessGates }}
- type: {{ .conditionType | Quote }}
  status: "True"
  lastTransitionTime: {{ $now | Quote }}
{{ end }}
containerStatuses:
{{ range .spec.containers }}
- name: {{ .name | Quote }}
  image: {{ .image | Quote }}
  ready: true
  restartCount: 0
  state:
    running:
      startedAt: {{ $now | Quote }}
{{ end }}
initContainerStatuses:
{{ range .spec.initContainers }}
- name: {{ .name | Quote }}
  image: {{ .image | Quote }}
  ready: true
  restartCount: 0
{{ if eq .restartPolicy "Always" }}
  started: true
  state:
    running:
      startedAt: {{ $now | Quote }}
{{ else }}
  state:
    terminated:
      exitCode: 0
      reason: Completed
      startedAt: {{ $now | Quote }}
      finishedAt: {{ $now | Quote }}
{{ end }}
{{ end }}
`;

// A running Job pod's containers all exit 0 at once.
const succeededStatus = `{{ $now := Now }}
phase: Succeeded
containerStatuses:
{{ range .spec.containers }}
- name: {{ .name | Quote }}
  image: {{ .image | Quote }}
  ready: false
  started: false
  restartCount: 0
  state:
    terminated:
      exitCode: 0
      reason: Completed
      startedAt: {{ $now | Quote }}
      finishedAt: {{ $now | Quote }}
{{ end }}
`;

export const podStages: object[] = [
  podStage("pod-ready", [notDeleted, { key: ".status.podIP", operator: "DoesNotExist" }], { statusTemplate: runningStatus }),
  podStage(
    "pod-complete",
    [
      notDeleted,
      { key: ".status.phase", operator: "In", values: ["Running"] },
      { key: ".metadata.ownerReferences.[].kind", operator: "In", values: ["Job"] },
      // kwok's NotIn also matches a pod without the label (pkg/utils/expression/selector.go).
      { key: `.metadata.labels[${JSON.stringify(ROLE_LABEL)}]`, operator: "NotIn", values: [BACKUP_AGENT_ROLE] },
    ],
    { statusTemplate: succeededStatus },
  ),
  // Graceful deletion is immediate: no container to stop, so the finalizers go and the pod is deleted.
  podStage("pod-delete", [{ key: ".metadata.deletionTimestamp", operator: "Exists" }], {
    finalizers: { empty: true },
    delete: true,
  }),
];

/** The multi-document YAML to pass as kwok's --config. */
export function renderKwokConfig(): string {
  // Literal blocks, never folded: the status templates stay readable in the run's kwok.yaml.
  return podStages.map((stage) => stringify(stage, { blockQuote: "literal", lineWidth: 0 })).join("---\n");
}
