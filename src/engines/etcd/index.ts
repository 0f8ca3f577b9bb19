// etcd: an n-member cluster whose membership changes one step at a time (render.ts, membership.ts), backed up as a
// snapshot (agent.ts).
import { identity, memberName } from '../common.ts';
import { defineEngine } from '../define.ts';
import type { Engine } from '../engine.ts';
import { adapter } from './agent.ts';
import { membershipJob, planMembership } from './membership.ts';
import { CLIENT, DATA_SUBPATH, DEFAULT_VERSION, defaultImage, ETCD_CREDENTIALS, peerURL, quorum, render, UID, VERSIONS } from './render.ts';

export const etcd: Engine = defineEngine({
  name: 'etcd',
  parametersDescription: 'etcd flags without the leading dashes',
  spec: {
    defaultVersion: DEFAULT_VERSION,
    ...VERSIONS,
    versionExamples: '"3.5" or "3.5.21"',
    maxReplicas: 7,
    oddReplicas: true,
    parameters: {
      keyPattern: /^[a-z][a-z0-9-]*$/,
      keyDescription: 'an etcd flag name without the leading dashes, such as snapshot-count',
      managed: [
        'advertise-client-urls',
        'data-dir',
        'initial-advertise-peer-urls',
        'initial-cluster',
        'initial-cluster-state',
        'initial-cluster-token',
        'listen-client-urls',
        // Set on the command line; etcd refuses to start when a flag is also set in its environment.
        'listen-metrics-urls',
        'listen-peer-urls',
        'name',
      ],
    },
  },
  defaultPort: CLIENT.port,
  credentialKeys: Object.values(ETCD_CREDENTIALS),
  defaultImage,
  render,
  backup: {
    methods: ['snapshot'],
    loadMode: () => 'volumes',
    // Every member: each starts from the same snapshot under its own name in the restored cluster.
    restoredMembers: (_method, members) => members,
    clearsOtherMembers: () => false,
  },
  agent: {
    uid: UID,
    dataSubPath: DATA_SUBPATH,
    backup: () => ({ credentialKey: ETCD_CREDENTIALS.root }),
    restore: () => ({ credentialKey: ETCD_CREDENTIALS.root }),
    // The member's identity in the restored cluster, as its StatefulSet names it and with the engine's
    // ETCD_INITIAL_CLUSTER_TOKEN, so the restored cluster is the one the members expect.
    memberArgs(target, ordinal, members, ctx) {
      const names = Array.from({ length: members }, (_, i) => memberName(target, i));
      const { name, namespace } = identity(target);
      return [
        '--etcd-name', names[ordinal]!,
        '--etcd-initial-cluster', names.map((member) => `${member}=${peerURL(target, member, ctx)}`).join(','),
        '--etcd-initial-advertise-peer-urls', peerURL(target, names[ordinal]!, ctx),
        '--etcd-initial-cluster-token', target.metadata.uid ?? `${namespace}/${name}`,
      ];
    },
  },
  adapter,
  // etcdutl restores where it exists (3.5 on); etcdctl does on its own otherwise.
  agentTools: ['etcdctl'],
  membership: { quorum, plan: planMembership, job: membershipJob },
});
