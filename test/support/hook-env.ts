/** Reading what a hook script saw and left behind: its `env` output, and whether its processes still run. */
import { readFileSync } from 'node:fs';
import { baseEnvironment, hookVariables } from '../../lib/hooks/variables.ts';

/** Reads `env` output (NAME=value per line; HINDSIGHT_BACKUP_FILES spans lines, so it is parsed by name). */
export function parseEnv(text: string): Map<string, string> {
  const env = new Map<string, string>();
  let last: string | undefined;
  for (const line of text.split('\n')) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (
      m &&
      (last !== 'HINDSIGHT_BACKUP_FILES' || m[1]!.startsWith('HINDSIGHT_') || m[1] === 'HOME' || m[1] === 'PATH')
    ) {
      env.set(m[1]!, m[2]!);
      last = m[1];
    } else if (last && line !== '') {
      env.set(last, `${env.get(last)}\n${line}`);
    }
  }
  return env;
}

/** Whether a process still runs (a zombie waiting for init to reap it does not). */
export function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] !== 'Z';
  } catch {
    return false;
  }
}

/** The documented variables and the base ones, plus what the shell sets itself: all a script may see. */
export const DOCUMENTED_VARIABLES = new Set([
  ...hookVariables.map((v) => v.name),
  ...Object.keys(baseEnvironment),
  'HOME',
  'TMPDIR',
  'PWD',
  'SHLVL',
  '_',
  'OLDPWD',
]);
