/**
 * One logical backup as the data plane runs it: its own storage drivers from the job's storage
 * configurations, the key rebuilt from its bytes, then the one dump pipeline (lib/backup/dump.ts).
 * The worker's inline mode runs the same function on its own thread, so both modes behave alike.
 */
import { streamDumpToStorage, type Destination, type DumpProgress, type DumpResult } from '../backup/dump.ts';
import { secretKeyFromBytes } from '../crypto/secret-key.ts';
import { kmsWrapper, type KmsWrapper } from '../crypto/wrap/kms/index.ts';
import { x25519Wrapper } from '../crypto/wrap/x25519.ts';
import { HindsightError } from '../errors.ts';
import { createStorageDriver } from '../storage/index.ts';
import type { DumpJob } from './protocol.ts';

export interface DumpRunOptions {
  signal: AbortSignal;
  onProgress: (progress: DumpProgress) => void;
}

/** Runs a backup somewhere: inline on the caller's thread, or in the data plane. */
export interface DumpRunner {
  readonly mode: 'inline' | 'thread';
  run(job: DumpJob, options: DumpRunOptions): Promise<DumpResult>;
  /** Starts what the first backup would otherwise wait for. */
  warm?(): void;
  close(): Promise<void>;
}

export async function runDumpJob(job: DumpJob, options: DumpRunOptions): Promise<DumpResult> {
  const key = secretKeyFromBytes(Buffer.from(job.key.bytes.buffer, job.key.bytes.byteOffset, job.key.bytes.length));
  if (key.id !== job.key.id)
    throw new HindsightError(
      'integrity',
      `data plane: the key sent for backup ${job.backupId} is not key ${job.key.id}`,
    );
  const destinations: Destination[] = [];
  const kms: KmsWrapper | undefined = job.kms ? kmsWrapper(job.kms) : undefined;
  try {
    for (const d of job.destinations)
      destinations.push({ name: d.name, driver: createStorageDriver(d.name, d.config) });
    return await streamDumpToStorage({
      databaseName: job.databaseName,
      backupId: job.backupId,
      target: job.target,
      destinations,
      // KMS mode: the data keys are wrapped by the KMS key. Public-key mode: for the recipient, which
      // this plane cannot unwrap.
      key: kms ?? (job.recipient ? x25519Wrapper(job.recipient) : key),
      signal: options.signal,
      onProgress: options.onProgress,
      ...(job.checksums ? { checksums: job.checksums } : {}),
      ...(job.parallelJobs === undefined ? {} : { parallelJobs: job.parallelJobs }),
    });
  } finally {
    await Promise.all(destinations.map((d) => d.driver.close?.().catch(() => undefined)));
    await kms?.close();
    // This copy of the key was made for this job alone: it does not outlive it.
    job.key.bytes.fill(0);
  }
}

/** The dump on the caller's own thread and heap: what every backup did before the data plane. */
export function inlineDumpRunner(): DumpRunner {
  return { mode: 'inline', run: runDumpJob, close: async () => undefined };
}
