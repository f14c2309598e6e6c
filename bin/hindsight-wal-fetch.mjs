#!/usr/bin/env node
// PostgreSQL's restore_command during a Hindsight point-in-time restore where the host has no curl
// (lib/pitr/recovery-settings.ts, restoreCommandFor), and `hindsight wal-fetch --socket`:
//   restore_command = '/usr/bin/node .../bin/hindsight-wal-fetch.mjs --socket <socket> %f %p'
// Plain JavaScript with no dependencies, so that it starts in tens of milliseconds: PostgreSQL runs
// it once per WAL segment. It asks the restore's fetch server (which holds the catalog, storage and
// key) over a unix socket, `GET /wal/<file>`, and writes the bytes it answers with.
// Exit codes (PostgreSQL docs, "restore_command"): 0 fetched; 1 not in the archive (recovery ends
// there quietly); 250 anything else, e.g. storage unreachable or a checksum mismatch: a status above
// 125 makes recovery abort loudly instead of mistaking a broken archive for its end.
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';

export const EXIT_NOT_FOUND = 1;
export const EXIT_FAILED = 250;

/**
 * The fetch server's answer for one file.
 * @param {string} socketPath
 * @param {string} file
 * @returns {Promise<import('node:http').IncomingMessage>}
 */
function request(socketPath, file) {
  return new Promise((resolve, reject) => {
    const req = http.get({ socketPath, path: `/wal/${encodeURIComponent(file)}`, agent: false }, resolve);
    req.on('error', (error) =>
      reject(
        new Error(
          `cannot reach the restore's WAL fetch server at ${socketPath}: ${error.message} (is the restore still running?)`,
        ),
      ),
    );
  });
}

/** @param {import('node:http').IncomingMessage} res */
async function bodyText(res) {
  let text = '';
  for await (const chunk of res) if (text.length < 4096) text += chunk;
  return text.trim();
}

/**
 * Asks the restore's fetch server for one file. Resolves 'ok' or 'not_found'; rejects with the
 * server's reason on any other outcome.
 * @param {string} socketPath
 * @param {string} file
 * @param {string} destination
 * @returns {Promise<'ok' | 'not_found'>}
 */
export async function fetchThroughSocket(socketPath, file, destination) {
  const res = await request(socketPath, file);
  if (res.statusCode === 404) {
    res.resume();
    return 'not_found';
  }
  if (res.statusCode !== 200) throw new Error((await bodyText(res)) || `${file}: HTTP ${res.statusCode}`);
  // Written beside the destination, then renamed: PostgreSQL never sees a half-written file.
  const temp = `${path.resolve(destination)}.hindsight-${process.pid}`;
  try {
    await pipeline(res, createWriteStream(temp, { mode: 0o600 }));
    await rename(temp, destination);
    return 'ok';
  } catch (error) {
    await rm(temp, { force: true });
    throw new Error(`${file}: cannot write the fetched file to ${destination}: ${error.message}`, { cause: error });
  }
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
