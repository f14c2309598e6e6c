/** `server drill` and the drill lines of `server show` (docs/pitr.md, "Drills"). */
import { describeFigures } from '../../lib/pitr/restore-figures.ts';
import type { ServerDrillStatus } from '../../services/servers/drills.ts';
import type { PitrDrillOutcome, PitrDrillResult } from '../../temporal/contracts/pitr-drill.ts';
import type { DrillCheck } from '../../lib/pitr/drill-checks.ts';
import type { Invocation } from '../commands/types.ts';
import { printJson } from '../output.ts';
import { sessionAs } from '../session.ts';

const check = (name: string, c: DrillCheck | null) => (c ? `${name} ${c.outcome}` : `${name} not run`);

/** `drills: weekly …; window proven up to …; last drill passed at …`. */
export function drillLines(d: ServerDrillStatus): string[] {
  const schedule = d.schedule ? `${d.schedule}${d.scheduled ? '' : ' (waiting for PITR on)'}` : 'off';
  const last = d.lastOutcome
    ? `last drill ${d.lastOutcome} at ${d.lastAt}${d.lastError ? `: ${d.lastError}` : ''}`
    : 'no drill yet';
  return [`drills: ${schedule}; window proven up to ${d.provenUpTo ?? 'nothing yet'}; ${last}`];
}

function drillLine(r: PitrDrillResult): string {
  const reached = r.reachedLsn
    ? `reached ${r.reachedLsn}${r.reachedTime ? ` (last commit ${r.reachedTime})` : ''}`
    : '';
  const checks = `${check('pg_verifybackup', r.verifyBackup)}, ${check('pg_amcheck', r.amcheck)}`;
  const head = `${r.outcome === 'passed' ? 'passed' : 'FAILED'} ${r.target} in window ${r.window}: ${reached}${reached ? '; ' : ''}${checks}`;
  const lines = [head];
  if (r.figures) lines.push(`  measured: ${describeFigures(r.figures)}`);
  if (r.error) lines.push(`  error: ${r.error}`);
  return lines.join('\n');
}

export async function drillServer({ args: [name], flags }: Invocation): Promise<void> {
  await sessionAs(flags.as)(async ({ services, actor }) => {
    const run = await services.servers.drill(actor, name!);
    if (!flags.wait) {
      if (flags.json) printJson({ workflowId: run.workflowId });
      else process.stdout.write(`${run.workflowId}\n`);
      return;
    }
    const outcome: PitrDrillOutcome = await run.result();
    if (flags.json) printJson({ ...outcome, workflowId: run.workflowId });
    else
      process.stdout.write(
        `${outcome.drills.map(drillLine).join('\n')}\nwindow of server "${outcome.server}" proven up to ${outcome.provenUpTo ?? 'nothing yet'}\n`,
      );
    if (!outcome.passed) process.exitCode = 1;
  });
}
