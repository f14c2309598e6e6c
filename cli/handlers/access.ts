/** What the commands of cli/commands/access.ts do when they run: loaded only then, so that the table and `--help` stay light. */
import { runAccessCommand } from '../access.ts';
import { sessionAs } from '../session.ts';
import { ssoCommands } from '../sso.ts';
import type { Invocation } from '../commands/types.ts';

export const access = ({ positionals, flags }: Invocation) =>
  sessionAs(flags.as, { temporal: false })(({ access: service, actor }) => {
    const [command, sub, ...args] = positionals;
    const sso = Object.hasOwn(ssoCommands, `${command} ${sub}`) ? ssoCommands[`${command} ${sub}`] : undefined;
    if (sso) return sso({ args, flags, access: service, actor, usage: '' });
    return runAccessCommand(positionals, flags, service, actor, '');
  });
