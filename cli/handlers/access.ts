/** What the commands of cli/commands/access.ts do when they run: loaded only then, so that the table and `--help` stay light. */
import { runAccessCommand } from '../access.ts';
import { sessionAs } from '../session.ts';
import type { Invocation } from '../commands/types.ts';

export const access = ({ positionals, flags }: Invocation) =>
  sessionAs(flags.as, { temporal: false })(({ access: service, actor }) =>
    runAccessCommand(positionals, flags, service, actor, ''),
  );
