import { open } from 'node:fs/promises';

/**
 * Flushes a file to disk. On a directory it flushes the directory's entries: a rename or a new
 * name in a directory is durable only once the directory itself is synced.
 */
export async function fsyncPath(file: string): Promise<void> {
  const handle = await open(file, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Creates `file` readable by its owner only (EEXIST when it exists), writes `text` and syncs it. */
export async function writeNewFileSynced(file: string, text: string): Promise<void> {
  const handle = await open(file, 'wx', 0o600);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
}
