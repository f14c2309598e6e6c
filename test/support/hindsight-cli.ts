/** The `hindsight` CLI run as a child process against a test platform's configuration. */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const cli = path.resolve('bin/hindsight.mjs');

export type HindsightCli = (args: string[], as?: string) => Promise<{ stdout: string; stderr: string }>;

/** Runs `hindsight <args>` with the platform's environment, as user `as` (HINDSIGHT_AS) when given. */
export function hindsightCli(configEnv: Record<string, string>): HindsightCli {
  return (args, as) =>
    run(process.execPath, [cli, ...args], {
      env: { ...process.env, ...configEnv, ...(as ? { HINDSIGHT_AS: as } : {}) },
    });
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `hindsight <args>` and never rejects: a failure is its exit code and what it printed. */
export function hindsightResult(
  configEnv: Record<string, string>,
  args: string[],
  options: { maxBuffer?: number } = {},
): Promise<CliResult> {
  return run(process.execPath, [cli, ...args], { env: { ...process.env, ...configEnv }, ...options }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: CliResult) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );
}
