import { printJson } from './output.ts';

/**
 * What a command that starts a workflow prints: its id at once, or with --wait its outcome
 * (JSON as it is, or the line `describe` makes of it). Returns the outcome when it waited.
 */
export async function printJob<T>(
  started: { workflowId: string; result(): Promise<T> },
  flags: { wait: boolean; json: boolean },
  describe: (outcome: T) => string,
): Promise<T | undefined> {
  if (!flags.wait) {
    if (flags.json) printJson({ workflowId: started.workflowId });
    else process.stdout.write(`${started.workflowId}\n`);
    return undefined;
  }
  const outcome = await started.result();
  if (flags.json) printJson(outcome);
  else process.stdout.write(`${describe(outcome)}\n`);
  return outcome;
}
