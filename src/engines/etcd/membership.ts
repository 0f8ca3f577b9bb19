// etcd membership: one step at a time towards spec.replicas, each carried out by a Job, never one that would cost
// the cluster its quorum (see render.ts for how members start and join).
import type { Database } from '../../api/database.ts';
import type { KubeObject } from '../../api/meta.ts';
import { identity, job, memberName, ordinalOf } from '../common.ts';
import type { EngineContext, Member, MembershipStep } from '../engine.ts';
import { etcdctlContainer, ordinal, peerURL, quorum, UID } from './render.ts';

/**
 * One step from `members` towards `desired` voters, never one that would leave fewer healthy voters than a quorum.
 * Every change is itself a Raft proposal, so nothing is planned while the healthy voters are short of a quorum. A new
 * member joins as a learner and is promoted once it runs; a learner no longer wanted is removed first; voters leave
 * from the highest ordinal down, since the StatefulSet can only remove its last pod.
 */
export function planMembership(db: Database, members: readonly Member[], desired: number): MembershipStep {
  if (members.length === 0) return { action: 'wait', reason: 'the cluster has no members: it has to be bootstrapped' };
  const voters = members.filter((m) => !m.learner).sort((a, b) => ordinal(b) - ordinal(a));
  const healthy = voters.filter((m) => m.healthy).length;
  if (healthy < quorum(voters.length)) {
    return {
      action: 'wait',
      reason: `${healthy} of ${voters.length} voting members are healthy, short of a quorum of ${quorum(voters.length)}`,
    };
  }
  const learner = members.find((m) => m.learner);
  if (learner) {
    if (voters.length >= desired) return { action: 'remove', member: learner.name };
    if (!learner.healthy) return { action: 'wait', reason: `learner ${learner.name} has not started yet` };
    return { action: 'promote', member: learner.name };
  }
  if (voters.length < desired) {
    return { action: 'add', member: memberName(db, Math.max(...members.map(ordinal)) + 1) };
  }
  if (voters.length > desired) {
    const leaving = voters[0]!;
    const remaining = healthy - (leaving.healthy ? 1 : 0);
    if (remaining < quorum(voters.length - 1)) {
      return {
        action: 'wait',
        reason: `removing ${leaving.name} would leave ${remaining} healthy of ${voters.length - 1} voting members, short of a quorum of ${quorum(voters.length - 1)}`,
      };
    }
    return { action: 'remove', member: leaving.name };
  }
  return { action: 'none' };
}

/** Idempotent: finds the member by its peer URL (a member not yet started has no name) and acts only if needed. */
const MEMBERSHIP_SCRIPT = `set -eu
list=$(etcdctl member list)
found=$(printf '%s\\n' "$list" | while IFS=', ' read -r id status name peer client learner; do
  if [ "$peer" = "$PEER_URL" ]; then echo "$id $learner"; fi
done)
set -- $found
case "$ACTION" in
  add) if [ $# -eq 0 ]; then etcdctl member add "$MEMBER" --learner --peer-urls="$PEER_URL"; fi ;;
  promote)
    if [ $# -eq 0 ]; then echo "$MEMBER is not a member" >&2; exit 1; fi
    if [ "$2" = true ]; then etcdctl member promote "$1"; fi
    ;;
  remove) if [ $# -gt 0 ]; then etcdctl member remove "$1"; fi ;;
esac
`;

/**
 * The Job that carries out a membership step, named `<database>-<action>-<ordinal>` so that a step already under way
 * is not started twice. Delete it once its outcome is recorded: a later step of the same name needs a new Job.
 */
export function membershipJob(
  db: Database,
  step: Extract<MembershipStep, { member: string }>,
  ctx: Pick<EngineContext, 'clusterDomain' | 'image'> = {},
): KubeObject {
  const container = etcdctlContainer(db, ctx, MEMBERSHIP_SCRIPT, [
    { name: 'ACTION', value: step.action },
    { name: 'MEMBER', value: step.member },
    { name: 'PEER_URL', value: peerURL(db, step.member, ctx) },
  ]);
  const name = `${identity(db).name}-${step.action}-${ordinalOf(step.member)}`;
  return job(db, name, 'membership', UID, [container]);
}
