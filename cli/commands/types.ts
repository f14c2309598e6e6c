import type { ArgDef, CommandDef, FlagUse, ParsedCommand } from '../command-table.ts';
import type { CliFlags, FlagName } from '../flags.ts';

/** One row of the `hindsight` command table. */
export type Command = CommandDef<CliFlags, FlagName>;
export type Invocation = ParsedCommand<CliFlags>;

export type Handler = (invocation: Invocation) => Promise<void>;

/** The exports of a handler module that are handlers. */
type HandlerName<Module> = { [K in keyof Module]: Module[K] extends Handler ? K : never }[keyof Module] & string;

/**
 * A handler loaded when its command runs: the table, the parser and `--help` then load no command's
 * dependencies (the services, the catalog driver, the Temporal client), which is what keeps them instant.
 */
export function lazy<Module>(load: () => Promise<Module>, name: HandlerName<Module>): Handler {
  return async (invocation) => ((await load())[name] as Handler)(invocation);
}

/** What a command has besides its words, summary and handler; none of it by default. */
export interface CommandOptions {
  args?: ArgDef[];
  flags?: Array<FlagUse<FlagName>>;
  details?: string[];
  local?: boolean;
}

/**
 * The rows of one handler module: `command('db list', 'the registered databases…', 'listDatabases')`,
 * its handler loaded from `load` by name when it runs.
 */
export function commandsFrom<Module>(load: () => Promise<Module>) {
  return (words: string, summary: string, handler: HandlerName<Module>, options: CommandOptions = {}): Command => ({
    words: words.split(' '),
    args: options.args ?? [],
    flags: options.flags ?? [],
    summary,
    ...(options.details ? { details: options.details } : {}),
    ...(options.local ? { local: true } : {}),
    handler: lazy(load, handler),
  });
}

/** The usual argument: the registered database the command is about. */
export const dbArg: ArgDef = { name: 'db' };
