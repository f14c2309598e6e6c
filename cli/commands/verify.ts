/** `hindsight verify`, `verifications` and `verify-schedule`: restores that prove a backup. */
import { commandsFrom, dbArg } from './types.ts';

const command = commandsFrom(() => import('../handlers/verify.ts'));

export const verifyCommands = [
  command(
    'verify',
    'restores a backup into a throwaway server and checks every table; prints the verification id',
    'verify',
    {
      args: [dbArg],
      flags: [
        'backup',
        { name: 'wait', description: 'wait for the verdict and print the report (exit 1 unless successful)' },
      ],
    },
  ),
  command('verifications', 'status, backup, reason of each verification', 'listVerifications', { args: [dbArg] }),
  command('verify-schedule', 'verify the newest backup on a cron too', 'verifySchedule', {
    args: [dbArg, { name: 'cron | off' }],
  }),
];
