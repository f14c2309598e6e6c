/**
 * Restoring an incremental base backup (PostgreSQL 17+): every member of its chain, full first, is
 * decrypted and extracted into `<data dir>/hindsight-chain/<n>/`, `pg_combinebackup` of the
 * backup's own major writes the reconstructed cluster into `hindsight-chain/combined/`, whose
 * entries then move up into the data directory, and the scratch directory goes. tar,
 * pg_combinebackup, mkdir and mv all run as the restored server's (sandbox) user with a scrubbed
 * environment: the chain is content the source controls, and any name in that directory may be a
 * link, so nothing running as root or as the worker writes there (docs/pitr-restore-config.md).
 */
import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { DecryptionKey } from '../crypto/chunked-gcm.ts';
import { HindsightError } from '../errors.ts';
import { serverToolOfMajor } from '../pg/tools.ts';
import type { StorageDriver } from '../storage/contract.ts';
import { extractBaseBackup, finishDataDirectory } from './extract.ts';
import { asServerUser, serverEnv } from './os-user.ts';
import { dataDirectoryMajor } from './recover.ts';

const run = promisify(execFile);

export const CHAIN_DIR = 'hindsight-chain';

export interface ChainMember {
  id: string;
  objectKey: string;
  sha256: string | null;
}

async function asServer(what: string, file: string, args: string[]): Promise<void> {
  const [cmd, cmdArgs] = asServerUser(file, args);
  try {
    await run(cmd, cmdArgs, { cwd: '/', env: serverEnv(), maxBuffer: 4 * 1024 * 1024 });
  } catch (error) {
    const err = error as { stderr?: string; message: string };
    throw new HindsightError(
      'tool_failed',
      `${what} failed: ${(err.stderr || err.message).trim().split('\n').slice(-3).join(' | ')}`,
    );
  }
}

/** Where a chain's members come from and where the cluster they make goes. */
export interface ChainRestoreOptions {
  chain: readonly ChainMember[];
  driver: StorageDriver;
  key: DecryptionKey;
  dataDir: string;
  signal?: AbortSignal;
  onBytes?: (bytes: number) => void;
}

/**
 * Extracts and combines `chain` (full first, the backup to restore last) into `dataDir`, which
 * holds nothing of the backup yet. Returns the bytes extracted, summed over the chain.
 */
export async function restoreChain(options: ChainRestoreOptions): Promise<{ rawBytes: number }> {
  const { chain, dataDir } = options;
  if (chain.length < 2)
    throw new HindsightError('bad_input', 'a chain to combine has a full and at least one incremental base backup');
  const scratch = path.join(dataDir, CHAIN_DIR);
  const dirs = chain.map((_, i) => path.join(scratch, String(i)));
  await asServer("making the chain's scratch directories", 'mkdir', ['-m', '700', scratch, ...dirs]);
  let done = 0;
  try {
    for (const [i, member] of chain.entries()) {
      const { rawBytes } = await extractBaseBackup({
        driver: options.driver,
        objectKey: member.objectKey,
        key: options.key,
        dataDir: dirs[i]!,
        expectedSha256: member.sha256,
        ...(options.signal ? { signal: options.signal } : {}),
        onBytes: (bytes) => options.onBytes?.(done + bytes),
      });
      done += rawBytes;
    }
    const major = await dataDirectoryMajor(dirs.at(-1)!);
    const combine = await serverToolOfMajor('pg_combinebackup', major);
    const combined = path.join(scratch, 'combined');
    await asServer(`pg_combinebackup ${combine.version} of ${chain.map((m) => m.id).join(' + ')}`, combine.path, [
      '-o',
      combined,
      ...dirs,
    ]);
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
    await asServer('moving the combined cluster into the data directory', 'find', [
      combined,
      '-mindepth',
      '1',
      '-maxdepth',
      '1',
      '-exec',
      'mv',
      '-t',
      dataDir,
      '--',
      '{}',
      '+',
    ]);
    await finishDataDirectory(dataDir);
    return { rawBytes: done };
  } finally {
    await rm(scratch, { recursive: true, force: true, maxRetries: 3 });
  }
}

/**
 * Extracts what a restore starts from into `dataDir`: a full base backup alone, or an incremental
 * one combined with its chain (`chain`, full first, the backup to restore last).
 */
export async function extractForRestore(options: ChainRestoreOptions): Promise<void> {
  const [only] = options.chain;
  if (options.chain.length === 1 && only) {
    await extractBaseBackup({ ...options, objectKey: only.objectKey, expectedSha256: only.sha256 });
  } else {
    await restoreChain(options);
  }
}
