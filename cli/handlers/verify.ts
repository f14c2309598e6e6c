/** What the commands of cli/commands/verify.ts do when they run: loaded only then, so that the table and `--help` stay light. */
import { printJson, printList } from '../output.ts';
import { sessionAs } from '../session.ts';
import { formatVerification } from '../verification-report.ts';
import type { Invocation } from '../commands/types.ts';

export async function verify({ args: [database], flags }: Invocation): Promise<void> {
  await sessionAs(flags.as)(async ({ services, actor }) => {
    const requested = await services.verifications.request(actor, database!, { backupId: flags.backup });
    if (!flags.wait) {
      if (flags.json)
        printJson({
          verificationId: requested.verificationId,
          backupId: requested.backupId,
          workflowId: requested.workflowId,
        });
      else process.stdout.write(`${requested.verificationId}\n`);
      return;
    }
    const summary = await requested.finished();
    if (flags.json) printJson(summary);
    else process.stdout.write(formatVerification(summary));
    if (summary.status !== 'successful') process.exitCode = 1;
  });
}

export async function listVerifications({ args: [database], flags }: Invocation): Promise<void> {
  const list = await sessionAs(flags.as, { temporal: false })(({ services, actor }) =>
    services.verifications.list(actor, database!),
  );
  printList(
    flags.json,
    list,
    (v) => ({
      id: v.id,
      requested: v.requestedAt,
      backup: v.backupId ?? '-',
      trigger: v.trigger,
      status: v.status,
      reason: v.reason ?? '',
    }),
    `no verifications of "${database}" yet: hindsight verify ${database}`,
  );
}

export async function verifySchedule({ args: [database, cron], flags }: Invocation): Promise<void> {
  const record = await sessionAs(flags.as)(({ services, actor }) =>
    services.verifications.setSchedule(actor, database!, cron === 'off' ? null : cron!),
  );
  if (flags.json) printJson(record);
  else
    process.stdout.write(
      record.verifySchedule
        ? `database "${database}": newest backup verified at "${record.verifySchedule}" (${record.timezone})\n`
        : `database "${database}": verified after each backup only\n`,
    );
}
