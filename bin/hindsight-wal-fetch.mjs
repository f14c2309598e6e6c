#!/usr/bin/env node
// PostgreSQL's restore_command during a Hindsight point-in-time restore:
//   restore_command = '/usr/bin/node .../bin/hindsight-wal-fetch.mjs --socket <socket> %f %p'
// Plain JavaScript with no dependencies, so that it starts in tens of milliseconds: PostgreSQL runs
// it once per WAL segment. It asks the restore activity (which holds the catalog, storage and key)
// over a unix socket; the activity writes the file.
// Exit codes (PostgreSQL docs, "restore_command"): 0 fetched; 1 not in the archive (recovery ends
// there quietly); 250 anything else, e.g. storage unreachable or a checksum mismatch: a status above
// 125 makes recovery abort loudly instead of mistaking a broken archive for its end.
import { copyFile, rename, rm } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

export const EXIT_NOT_FOUND = 1;
export const EXIT_FAILED = 250;

/**
 * Asks the restore's fetch server for one file. Resolves 'ok' or 'not_found'; rejects with the
 * server's reason on any other outcome.
 * @param {string} socketPath
 * @param {string} file
 * @param {string} destination
 * @returns {Promise<'ok' | 'not_found'>}
 */
export function fetchThroughSocket(socketPath, file, destination) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath);
    let reply = '';
    let settled = false;
    const finish = (error, value) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      if (error) reject(error);
      else resolve(value);
    };
    /** @param {{ status?: string, staged?: string, message?: string }} parsed */
    const answered = (parsed) => {
      if (parsed.status === 'not_found') return finish(undefined, 'not_found');
      if (parsed.status !== 'ok' || typeof parsed.staged !== 'string')
        return finish(new Error(`${file}: ${parsed.message ?? 'failed'}`));
      // Copied beside the destination, then renamed: PostgreSQL never sees a half-written file.
      const temp = `${path.resolve(destination)}.hindsight-${process.pid}`;
      copyFile(parsed.staged, temp)
        .then(() => rename(temp, destination))
        .then(
          () => finish(undefined, 'ok'),
          (error) =>
            rm(temp, { force: true }).finally(() =>
              finish(new Error(`${file}: cannot copy the fetched file to ${destination}: ${error.message}`)),
            ),
        );
    };
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(`${JSON.stringify({ file })}\n`));
    socket.on('data', (chunk) => {
      if (reply.includes('\n')) return;
      reply += chunk;
      const newline = reply.indexOf('\n');
      if (newline < 0) return;
      let parsed;
      try {
        parsed = JSON.parse(reply.slice(0, newline));
      } catch {
        finish(new Error(`the WAL fetch server gave no answer for ${file}`));
        return;
      }
      answered(parsed);
    });
    socket.on('error', (error) =>
      finish(
        new Error(
          `cannot reach the restore's WAL fetch server at ${socketPath}: ${error.message} (is the restore still running?)`,
        ),
      ),
    );
    socket.on('end', () => {
      if (reply.indexOf('\n') < 0) finish(new Error(`the WAL fetch server gave no answer for ${file}`));
    });
  });
}

/** @param {string[]} argv */
export async function main(argv) {
  const rest = [...argv];
  let socketPath = process.env.HINDSIGHT_WAL_FETCH_SOCKET;
  const at = rest.indexOf('--socket');
  if (at >= 0) {
    socketPath = rest[at + 1];
    rest.splice(at, 2);
  }
  const [file, destination] = rest;
  if (!socketPath || !file || !destination) {
    process.stderr.write('usage: hindsight-wal-fetch.mjs --socket <socket> <wal file name> <destination path>\n');
    return EXIT_FAILED;
  }
  try {
    return (await fetchThroughSocket(socketPath, file, destination)) === 'ok' ? 0 : EXIT_NOT_FOUND;
  } catch (error) {
    process.stderr.write(`hindsight wal-fetch: ${error instanceof Error ? error.message : String(error)}\n`);
    return EXIT_FAILED;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2));
}
