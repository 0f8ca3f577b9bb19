// A Restore's steps in status: the plan's steps, each Pending → Running → Completed (or Skipped, or Failed).
import type { RestoreStatus } from '../../api/restore.ts';
import type { RestoreStepName } from '../../api/restore-plan.ts';

export type Step = NonNullable<RestoreStatus['steps']>[number];
export type StepPhase = Step['phase'];

/** The first step that is neither Completed nor Skipped: the one to work on. */
export function currentStep(steps: readonly Step[] | undefined): Step | undefined {
  return steps?.find((step) => step.phase !== 'Completed' && step.phase !== 'Skipped');
}

/** `steps` with step `name` moved to `phase`; times are set on the first move to Running and on finishing. */
export function withStep(steps: readonly Step[], name: RestoreStepName, phase: StepPhase, now: string, message?: string): Step[] {
  return steps.map((step) => {
    if (step.name !== name) return step;
    const next: Step = { ...step, phase };
    if (phase === 'Running') next.startTime ??= now;
    if (phase === 'Completed' || phase === 'Failed' || phase === 'Skipped') {
      next.startTime ??= now;
      next.completionTime = now;
    }
    if (message !== undefined) next.message = message;
    return next;
  });
}
