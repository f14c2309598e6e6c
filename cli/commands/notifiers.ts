/** `hindsight notifier …`: who hears of failures (cli/notifiers.ts). */
import { notificationEvents } from '../../lib/notify/config.ts';
import { lazy, type Command } from './types.ts';

const load = () => import('../handlers/notifiers.ts');

const name = { name: 'name' };

export const notifierCommands: Command[] = [
  {
    words: ['notifier', 'add'],
    args: [name],
    summary: 'saves a notifier (email, slack, discord, teams, telegram or webhook)',
    flags: [
      { name: 'type', description: 'email, slack, discord, teams, telegram or webhook (or "type" in --config)' },
      {
        name: 'config',
        description: 'its configuration as a JSON object, or @file to keep tokens out of shell history',
      },
      { name: 'workspace', description: 'the workspace it belongs to' },
    ],
    handler: lazy(load, 'notifier'),
  },
  {
    words: ['notifier', 'list'],
    args: [],
    flags: [],
    summary: 'type, where it sends, events, databases, health',
    handler: lazy(load, 'notifier'),
  },
  {
    words: ['notifier', 'test'],
    args: [name],
    flags: [],
    summary: "sends a test message; prints the receiver's answer or error",
    handler: lazy(load, 'notifier'),
  },
  {
    words: ['notifier', 'remove'],
    args: [name],
    flags: [],
    summary: 'removes the notifier',
    handler: lazy(load, 'notifier'),
  },
  {
    words: ['notifier', 'attach'],
    args: [{ name: 'db' }, { name: 'name[,name...] | none' }],
    flags: [],
    summary: 'the notifiers that hear of the database ("none" detaches all)',
    handler: lazy(load, 'notifier'),
  },
  {
    words: ['notifier', 'events'],
    args: [name, { name: 'event[,event...]' }],
    flags: [],
    summary: `the events it hears of: ${notificationEvents.join(', ')}`,
    handler: lazy(load, 'notifier'),
  },
  {
    words: ['notifier', 'deliveries'],
    args: [{ name: 'name', optional: true }],
    flags: [],
    summary: 'recent deliveries: status, attempts, last error',
    handler: lazy(load, 'notifier'),
  },
];
