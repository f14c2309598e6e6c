/** `hindsight notifier …`: who hears of failures (cli/notifiers.ts). */
import { notificationEvents } from '../../lib/notify/config.ts';
import { belongsToWorkspace, changeFlags } from '../flags.ts';
import { commandsFrom, type CommandOptions } from './types.ts';

// Every notifier command runs through one handler, which dispatches on the command's words.
const command = commandsFrom(() => import('../handlers/notifiers.ts'));
const notifier = (words: string, summary: string, options?: CommandOptions) =>
  command(words, summary, 'notifier', options);

const named = { args: [{ name: 'name' }] };

export const notifierCommands = [
  notifier('notifier add', 'saves a notifier (email, slack, discord, teams, telegram or webhook)', {
    ...named,
    flags: [
      { name: 'type', description: 'email, slack, discord, teams, telegram or webhook (or "type" in --config)' },
      {
        name: 'config',
        description: 'its configuration as a JSON object, or @file to keep tokens out of shell history',
      },
      belongsToWorkspace,
    ],
  }),
  notifier('notifier update', 'changes some settings or its events; secrets not given are kept', {
    ...named,
    details: ['the change is merged over the stored configuration ("field": null drops one); the type cannot change'],
    flags: [
      ...changeFlags,
      { name: 'events', description: `the events it hears of instead: ${notificationEvents.join(', ')}` },
    ],
  }),
  notifier('notifier list', 'type, where it sends, events, databases, health'),
  notifier('notifier test', "sends a test message; prints the receiver's answer or error", named),
  notifier('notifier remove', 'removes the notifier', named),
  notifier('notifier attach', 'the notifiers that hear of the database ("none" detaches all)', {
    args: [{ name: 'db' }, { name: 'name[,name...] | none' }],
  }),
  notifier('notifier events', `the events it hears of: ${notificationEvents.join(', ')}`, {
    args: [...named.args, { name: 'event[,event...]' }],
  }),
  notifier('notifier deliveries', 'recent deliveries: status, attempts, last error', {
    args: [{ name: 'name', optional: true }],
  }),
];
