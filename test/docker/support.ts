/** What the docker suite shares: the sandbox images, the engine's view of a container, commands run inside a sandbox. */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { connect, type PgTarget } from '../../lib/pg/connection.ts';

const run = promisify(execFile);
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Every part of this suite names what it creates on the shared engine with this prefix. */
export const TEST_PREFIX = 'dsandbox';

/** Builds the sandbox images if they are not there yet (quick when they are), as an operator would. */
export async function ensureSandboxImages(): Promise<void> {
  await run(path.join(repoRoot, 'scripts/docker/sandbox-images.sh'), [], {
    cwd: repoRoot,
    timeout: 15 * 60_000,
    maxBuffer: 16 * 1024 * 1024,
  });
}

export async function docker(...args: string[]): Promise<string> {
  const { stdout } = await run('docker', args, { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 });
  return stdout.trim();
}

/** Containers (running or not) carrying a label, by name. */
export async function containersLabelled(label: string): Promise<string[]> {
  const out = await docker('ps', '-a', '--filter', `label=${label}`, '--format', '{{.Names}}');
  return out ? out.split('\n').sort() : [];
}

export async function volumeExists(name: string): Promise<boolean> {
  return run('docker', ['volume', 'inspect', name], { timeout: 30_000 }).then(
    () => true,
    () => false,
  );
}

/** Names of the volumes mounted into a container. */
export async function volumesOf(container: string): Promise<string[]> {
  const out = await docker(
    'inspect',
    '--format',
    '{{range .Mounts}}{{if eq .Type "volume"}}{{.Name}}{{"\\n"}}{{end}}{{end}}',
    container,
  );
  return out ? out.split('\n').filter(Boolean) : [];
}

const literal = (text: string): string => `'${text.replace(/'/g, "''")}'`;

/** Runs a shell command inside the sandbox as its own superuser would (COPY FROM PROGRAM) and returns its output. */
export async function runInSandbox(admin: PgTarget, command: string): Promise<string> {
  const client = await connect('sandbox superuser', admin);
  try {
    await client.query('create temp table program_output (line text)');
    await client.query(
      `copy program_output from program ${literal(`${command} 2>&1; true`)} with (format text, delimiter E'\\x01')`,
    );
    return (await client.query<{ line: string }>('select line from program_output')).rows.map((r) => r.line).join('\n');
  } finally {
    await client.end();
  }
}

/** The files in a directory of the sandbox's own filesystem, as its superuser sees them. */
export async function listInSandbox(admin: PgTarget, dir: string): Promise<string[]> {
  const client = await connect('sandbox superuser', admin);
  try {
    return (await client.query<{ f: string }>('select f from pg_ls_dir($1) f order by 1', [dir])).rows.map((r) => r.f);
  } finally {
    await client.end();
  }
}
