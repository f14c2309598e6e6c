/**
 * `hindsight wal-fetch <wal file> <destination> [--socket <path> | --database <db>]`: PostgreSQL's
 * restore_command.
 *
 * Two ways, chosen for speed. During a pitrRestore the server's restore_command asks the restore
 * activity over a unix socket (curl, or the plain JavaScript entry bin/hindsight-wal-fetch.mjs where
 * the host has no curl; no tsx, catalog connection or key read per call). This command does the
 * same when given --socket (or HINDSIGHT_WAL_FETCH_SOCKET). With --database instead (for a
 * recovery someone sets up by hand), it reads the configuration and the secret key and fetches from
 * the catalog and storage directly; that costs a second or so of start-up per segment.
 *
 * Exit codes: 0 fetched, 1 not in the archive, 250 any other failure (above 125, so that recovery
 * aborts instead of taking a storage error for the end of the archive).
 */
import path from 'node:path';
import { EXIT_FAILED, EXIT_NOT_FOUND, fetchThroughSocket } from '../bin/hindsight-wal-fetch.mjs';
import { loadConfig } from '../lib/config.ts';
import { errorMessage } from '../lib/errors.ts';
import { createWalSource } from '../lib/pitr/wal-source.ts';
import { decodeWalObject } from '../lib/wal/segment-codec.ts';
import { openRuntime } from '../services/runtime.ts';

export async function walFetchCommand(
  file: string | undefined,
  destination: string | undefined,
  options: { socket?: string | undefined; database?: string | undefined },
): Promise<number> {
  if (!file || !destination) {
    process.stderr.write('usage: hindsight wal-fetch <wal file> <destination> [--socket <path> | --database <name>]\n');
    return EXIT_FAILED;
  }
  try {
    const socket = options.socket ?? process.env.HINDSIGHT_WAL_FETCH_SOCKET;
    if (socket) return (await fetchThroughSocket(socket, file, destination)) === 'ok' ? 0 : EXIT_NOT_FOUND;
    const database = options.database ?? process.env.HINDSIGHT_WAL_FETCH_DATABASE;
    if (!database) throw new Error('give --socket <path> (a running restore) or --database <name>');
    const runtime = await openRuntime(loadConfig(), { migrate: false });
    try {
      const config = await runtime.catalog.wal.config(database);
      if (!config.systemIdentifier || !config.walSegmentSize)
        throw new Error(`database "${database}" has no WAL archive`);
      const source = createWalSource(runtime.catalog, {
        database,
        systemIdentifier: config.systemIdentifier,
        segmentSize: config.walSegmentSize,
      });
      try {
        const found = await source.find(file);
        if (!found) return EXIT_NOT_FOUND;
        await decodeWalObject({
          driver: await source.driver(found.storageName),
          objectKey: found.objectKey,
          key: runtime.keyring.decryption(),
          destination: path.resolve(destination),
          ...(found.padToSize !== undefined ? { padToSize: found.padToSize } : {}),
          ...(found.sha256 !== undefined ? { expectedSha256: found.sha256 } : {}),
        });
        return 0;
      } finally {
        await source.close();
      }
    } finally {
      await runtime.close();
    }
  } catch (error) {
    process.stderr.write(`hindsight wal-fetch: ${errorMessage(error)}\n`);
    return EXIT_FAILED;
  }
}
