/**
 * A data plane thread for lifecycle tests: the real port protocol (lib/dataplane/serve.ts) around a
 * job whose behaviour the database name chooses, so that a crash, a hang until cancelled or an
 * out-of-memory end can be caused on purpose. The real pipeline is covered by the integration tests.
 */
import { createHash } from 'node:crypto';
import { parentPort, threadId } from 'node:worker_threads';
import type { BackupManifest } from '../../lib/backup/manifest.ts';
import { secretKeyFromBytes } from '../../lib/crypto/secret-key.ts';
import { HindsightError } from '../../lib/errors.ts';
import type { DumpJob } from '../../lib/dataplane/protocol.ts';
import { serveDataPlane } from '../../lib/dataplane/serve.ts';

const sha = (text: string) => createHash('sha256').update(text).digest('hex');

/** A manifest that names the job, the key that arrived and this thread, so the test can check each. */
function manifestFor(job: DumpJob, bytes: number): BackupManifest {
  const key = secretKeyFromBytes(Buffer.from(job.key.bytes));
  return {
    format: 'hindsight-logical-backup',
    formatVersion: 1,
    backupId: job.backupId,
    database: job.databaseName,
    startedAt: new Date().toISOString(),
    finishedAt: new Date().toISOString(),
    source: { ...job.target, serverVersion: '17.0', sizeBytes: bytes },
    tool: { name: 'pg_dump', version: '17.0', format: 'custom', compression: { algorithm: 'zstd', level: 5 } },
    snapshot: `thread-${threadId}`,
    dump: { sizeBytes: bytes, sha256: sha('dump') },
    object: { key: `${job.databaseName}/${job.backupId}`, sizeBytes: bytes, sha256: sha('object') },
    encryption: {
      format: 'HSBK',
      version: 1,
      algorithm: 'AES-256-GCM',
      kdf: 'HKDF-SHA256',
      keyId: key.id,
      chunkSize: 1,
      header: '',
    },
    tables: [],
  };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

if (!parentPort) throw new Error('a worker thread only');
const hoard: unknown[] = [];
serveDataPlane(parentPort, async (job, { signal, onProgress }) => {
  switch (job.databaseName) {
    case 'crash':
      return process.exit(3);
    case 'oom':
      for (;;) hoard.push(new Array(100_000).fill({ grown: hoard.length }));
    case 'refused':
      throw new HindsightError(
        'access_denied',
        `database "refused": pg_dump was refused (grant the backup role SELECT)`,
      );
    case 'hang':
      await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
      await sleep(20);
      throw new HindsightError('tool_failed', `backup of "hang" was cancelled`);
    default:
      for (let i = 1; i <= 3; i += 1) {
        onProgress({ dumpBytes: i * 100, storedBytes: i * 101 });
        await sleep(5);
      }
      return {
        manifest: manifestFor(job, 300),
        copies: job.destinations.map((d) => ({ storageName: d.name, status: 'complete' as const, sizeBytes: 303 })),
      };
  }
});
