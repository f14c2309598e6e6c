/**
 * The `hindsight` command: argv parsed against the command table (cli/commands/), then the
 * command's handler. A usage mistake is one line on stderr (and {"error":…} with --json), exit 2.
 */
import { hindsightCommands } from './commands/index.ts';
import { parseCommandLine } from './command-table.ts';
import { reportFailure } from './output.ts';
import { commandUsage, programUsage } from './usage.ts';

const argv = process.argv.slice(2);

async function run(): Promise<void> {
  const outcome = parseCommandLine(hindsightCommands, argv);
  if (outcome.help) {
    process.stdout.write(
      outcome.command
        ? commandUsage(hindsightCommands, outcome.command)
        : programUsage(hindsightCommands, outcome.prefix),
    );
    return;
  }
  await outcome.command.handler(outcome.parsed);
}

run().then(
  () => process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0),
  (error: unknown) => process.exit(reportFailure(error, argv.includes('--json'))),
);
