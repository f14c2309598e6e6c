/** What the commands of cli/commands/notifiers.ts do when they run: loaded only then, so that the table and `--help` stay light. */
import { runNotifierCommand } from '../notifiers.ts';
import { sessionAs } from '../session.ts';
import type { Invocation } from '../commands/types.ts';

export const notifier = ({ positionals, flags }: Invocation) =>
  runNotifierCommand(positionals[1], positionals.slice(2), {
    json: flags.json,
    flags,
    withSession: sessionAs(flags.as),
  });
