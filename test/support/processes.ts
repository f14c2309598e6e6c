import { readdir, readFile } from 'node:fs/promises';

/** Processes whose command line names a path inside `dir`: a sandbox's server (bwrap or postgres) and their children. */
export async function processesOf(dir: string): Promise<number[]> {
  const pids: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const cmdline = await readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.split('\0').some((arg) => arg.startsWith(`${dir}/`))) pids.push(Number(name));
  }
  return pids;
}
