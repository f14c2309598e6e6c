import { workflowInfo } from '@temporalio/workflow';
import {
  pitrDrillInput,
  pitrDrillWorkflow,
  type DrillTarget,
  type PitrDrillInput,
  type PitrDrillOutcome,
  type PitrDrillResult,
} from '../temporal/contracts/pitr-drill.ts';
import type { PitrOutcome } from '../temporal/contracts/pitr.ts';
import { catalogActivities, longActivities } from './activity-options.ts';
import { newRestoreId } from './run-ids.ts';
import { parseInput, rootMessage } from './validate.ts';

const quick = catalogActivities;

/**
 * One try: a drill that fails is the finding, recorded and notified, not something to hide behind
 * a retry. The heartbeat timeout is the PITR restore's (workflows/pitr-restore.ts).
 */
const drillRestore = longActivities({
  startToCloseTimeout: '24 hours',
  heartbeatTimeout: '15 seconds',
  retry: { maximumAttempts: 1 },
});

/** Plans and restores one target into a sandbox; the error of either step is the drill's finding. */
async function restoreTarget(
  database: string,
  target: DrillTarget,
): Promise<{ report: PitrOutcome } | { error: string }> {
  try {
    const plan = await quick.planPitrRestore({ database, target: target.target });
    const result = await drillRestore.restoreToPointInTime({
      database,
      restoreId: newRestoreId('drill'),
      baseBackupId: plan.baseBackupId,
      timeline: plan.timeline,
      target: target.target,
      to: { sandbox: true },
      endsAtHead: plan.endsAtHead,
      drill: true,
    });
    return { report: { database, baseBackupId: plan.baseBackupId, timeline: plan.timeline, ...result } };
  } catch (error) {
    return { error: rootMessage(error) };
  }
}

/**
 * A PITR drill (docs/pitr.md, "Drills"): each target the plan picked is restored into a sandbox,
 * one after the other (a sandbox holds a whole cluster), checked and recorded. A failed drill
 * queues a notification when it is recorded; the run itself ends normally with the findings.
 */
export async function pitrDrill(raw: PitrDrillInput): Promise<PitrDrillOutcome> {
  const input = parseInput(pitrDrillWorkflow.type, pitrDrillInput, raw);
  const plan = await quick.planPitrDrill({ server: input.server, seed: input.seed, latest: input.latest });
  const drills: PitrDrillResult[] = [];
  let provenUpTo: string | null = null;
  for (const target of plan.targets) {
    const startedAt = new Date().toISOString();
    const restored = await restoreTarget(plan.database, target);
    const recorded = await quick.recordPitrDrillRun({
      server: input.server,
      workflowId: workflowInfo().workflowId,
      segmentSize: plan.segmentSize,
      target,
      startedAt,
      restored,
    });
    drills.push(recorded.drill);
    provenUpTo = recorded.provenUpTo;
  }
  return { server: input.server, drills, provenUpTo, passed: drills.every((d) => d.outcome === 'passed') };
}
