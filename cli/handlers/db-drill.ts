/** `hindsight db drill` and `db drills`: restore drills into the database's drill target. */
import { printJson, printList, UsageError } from '../output.ts';
import { drillRow, drillSummary } from '../restore-drill-output.ts';
import { sessionAs } from '../session.ts';
import type { Invocation } from '../commands/types.ts';

export async function drillDatabase({ args: [database], flags }: Invocation): Promise<void> {
  await sessionAs(flags.as)(async ({ services, actor }) => {
    const started = await services.restoreDrills.run(actor, database!);
    if (!flags.wait) {
      if (flags.json) printJson({ workflowId: started.workflowId });
      else process.stdout.write(`${started.workflowId}\n`);
      return;
    }
    const outcome = await started.finished();
    const drill = await services.restoreDrills.get(actor, database!, outcome.drillId);
    if (flags.json) printJson(drill);
    else process.stdout.write(`restore drill ${drill.id} of "${database}": ${drillSummary(drill)}\n`);
    if (drill.status !== 'successful') process.exitCode = 1;
  });
}

export async function listDrills({ args: [database], flags }: Invocation): Promise<void> {
  const drills = await sessionAs(flags.as, { temporal: false })(({ services, actor }) =>
    services.restoreDrills.list(actor, database!),
  );
  printList(
    flags.json,
    drills,
    drillRow,
    `no restore drills of "${database}" yet: hindsight db drill ${database} --wait`,
  );
}

/** What `db update`'s restore drill flags ask for: nothing, off, or settings to save. */
export function drillChange(
  target: string | undefined,
  cron: string | undefined,
): 'off' | { target?: string; cron?: string } | undefined {
  if (target === 'off') {
    if (cron !== undefined) throw new UsageError('--restore-drill-cron means nothing with --restore-drill-target off');
    return 'off';
  }
  if (target === undefined && cron === undefined) return undefined;
  return { ...(target !== undefined && { target }), ...(cron !== undefined && { cron }) };
}
