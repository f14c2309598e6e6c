import type { CommandDef, ParsedCommand } from '../command-table.ts';
import type { CliFlags, FlagName } from '../flags.ts';

/** One row of the `hindsight` command table. */
export type Command = CommandDef<CliFlags, FlagName>;
export type Invocation = ParsedCommand<CliFlags>;
