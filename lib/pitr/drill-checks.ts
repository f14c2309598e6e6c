/**
 * The checks a PITR drill runs on its sandbox besides recovery itself (docs/pitr.md, "Drills"):
 * pg_verifybackup over the extracted base backup, before the server first starts (recovery rewrites
 * files the manifest lists), and pg_amcheck --heapallindexed over every database of the promoted
 * cluster. Both come from the client tools setup installs (lib/pg/tools.ts). A check that could not
 * run (no tool, no amcheck extension) is `unavailable` or `missing`, never `passed`.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { errorMessage } from '../errors.ts';
import { libpqChildEnv, type PgTarget } from '../pg/connection.ts';
import { toolFor } from '../pg/tools.ts';
import { MARKER } from './extract.ts';
import { asServerUser, serverEnv } from './os-user.ts';

const run = promisify(execFile);

export type DrillCheckOutcome = 'passed' | 'failed' | 'missing' | 'unavailable';

export interface DrillCheck {
  outcome: DrillCheckOutcome;
  /** The tool's last lines: what failed, what was missing, or its success line. */
  detail: string;
  ms: number;
}

const lastLines = (text: string, n = 4) => text.trim().split('\n').slice(-n).join(' | ');

interface ToolRun {
  code: number;
  stdout: string;
  stderr: string;
}

async function runTool(cmd: string, args: string[], env: Record<string, string>): Promise<ToolRun> {
  try {
    const { stdout, stderr } = await run(cmd, args, { cwd: '/', env, maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const err = error as { code?: unknown; stdout?: string; stderr?: string; message: string };
    const code = typeof err.code === 'number' ? err.code : -1;
    return { code, stdout: err.stdout ?? '', stderr: err.stderr || (code === -1 ? err.message : '') };
  }
}

/**
 * pg_verifybackup on the extracted data directory against the backup_manifest the archive stored
 * in it. `--no-parse-wal`: the base backup carries no WAL (recovery fetches it from the archive,
 * and the drill proves that part by recovering). Run as the server's OS user, who owns the files.
 */
export async function verifyExtractedBackup(dataDir: string, major: number): Promise<DrillCheck> {
  const started = performance.now();
  const ms = () => Math.round(performance.now() - started);
  let tool: string;
  try {
    tool = (await toolFor('pg_verifybackup', major)).path;
  } catch (error) {
    return { outcome: 'unavailable', detail: errorMessage(error), ms: ms() };
  }
  // The marker naming the restore that owns the directory is ours, put there before extraction.
  const [cmd, args] = asServerUser(tool, ['--no-parse-wal', `--ignore=${MARKER}`, dataDir]);
  const result = await runTool(cmd, args, serverEnv());
  const output = `${result.stdout}\n${result.stderr}`;
  if (result.code === 0) return { outcome: 'passed', detail: lastLines(output, 1), ms: ms() };
  return { outcome: 'failed', detail: `pg_verifybackup: ${lastLines(output)}`, ms: ms() };
}

/** pg_amcheck's words when a database lacks the extension (and it could not be installed). */
const AMCHECK_MISSING =
  /amcheck is not installed|extension "amcheck" is not available|permission denied to create extension|could not open extension control file/i;

/**
 * pg_amcheck --heapallindexed over every database of the promoted sandbox, as the role the restore
 * follows recovery with, from this process (the role's password never reaches the sandbox's OS
 * user). `--install-missing` creates the extension in the throwaway cluster where that role may;
 * where it may not, the check is `missing`, naming why.
 */
export async function amcheckRestored(server: { host: string; port: number; major: number }, connectAs: PgTarget) {
  const started = performance.now();
  const ms = () => Math.round(performance.now() - started);
  let tool: string;
  try {
    tool = (await toolFor('pg_amcheck', server.major)).path;
  } catch (error) {
    return { outcome: 'unavailable' as const, detail: errorMessage(error), ms: ms() };
  }
  const target: PgTarget = { ...connectAs, host: server.host, port: server.port, sslmode: 'disable' };
  const args = ['--all', '--heapallindexed', '--install-missing', '--maintenance-db', target.database];
  const result = await runTool(tool, args, libpqChildEnv(target));
  const output = `${result.stdout}\n${result.stderr}`;
  if (AMCHECK_MISSING.test(output))
    return { outcome: 'missing' as const, detail: `pg_amcheck could not run: ${lastLines(output)}`, ms: ms() };
  if (result.code === 0)
    return { outcome: 'passed' as const, detail: 'pg_amcheck found no corruption in any database', ms: ms() };
  return { outcome: 'failed' as const, detail: `pg_amcheck (exit ${result.code}): ${lastLines(output)}`, ms: ms() };
}
