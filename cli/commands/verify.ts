/** `hindsight verify`, `verifications` and `verify-schedule`: restores that prove a backup. */
import { lazy, type Command } from './types.ts';

const load = () => import('../handlers/verify.ts');

const db = { name: 'db' };

export const verifyCommands: Command[] = [
  {
    words: ['verify'],
    args: [db],
    summary: 'restores a backup into a throwaway server and checks every table; prints the verification id',
    flags: [
      'backup',
      { name: 'wait', description: 'wait for the verdict and print the report (exit 1 unless successful)' },
    ],
    handler: lazy(load, 'verify'),
  },
  {
    words: ['verifications'],
    args: [db],
    flags: [],
    summary: 'status, backup, reason of each verification',
    handler: lazy(load, 'listVerifications'),
  },
  {
    words: ['verify-schedule'],
    args: [db, { name: 'cron | off' }],
    flags: [],
    summary: 'verify the newest backup on a cron too',
    handler: lazy(load, 'verifySchedule'),
  },
];
