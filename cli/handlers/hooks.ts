/** What the commands of cli/commands/hooks.ts do when they run: loaded only then, so that the table and `--help` stay light. */
import { hookCommand } from '../hooks.ts';
import { sessionAs } from '../session.ts';
import type { Invocation } from '../commands/types.ts';

export const hook = ({ positionals, flags }: Invocation) =>
  hookCommand(positionals.slice(1), flags, flags.json, sessionAs(flags.as));
