import type { CommandDef, ParsedCommand } from '../command-table.ts';
import type { CliFlags, FlagName } from '../flags.ts';

/** One row of the `hindsight` command table. */
export type Command = CommandDef<CliFlags, FlagName>;
export type Invocation = ParsedCommand<CliFlags>;

export type Handler = (invocation: Invocation) => Promise<void>;

/**
 * A handler loaded when its command runs: the table, the parser and `--help` then load no command's
 * dependencies (the services, the catalog driver, the Temporal client), which is what keeps them instant.
 */
export function lazy<K extends string>(load: () => Promise<Record<K, Handler>>, name: K): Handler {
  return async (invocation) => (await load())[name](invocation);
}
