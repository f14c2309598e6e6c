/**
 * File access inside a restored data directory, which holds hostile content: any name in it may be
 * a symbolic link (a base backup's tar can carry one) to a file of the worker's host. Reads never
 * follow a link; writes replace whatever stands at the name with a new file of the server's user.
 */
import { constants } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { runningAsRoot, serverUserIds } from './os-user.ts';

/** The file's text, or undefined when it is absent, a link, not a regular file or too large. */
export async function readNoFollow(file: string, maxBytes = 16 * 1024 * 1024): Promise<string | undefined> {
  let handle;
  try {
    handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    const info = await handle.stat();
    if (!info.isFile() || info.size > maxBytes) return undefined;
    return await handle.readFile('utf8');
  } catch {
    return undefined;
  } finally {
    await handle?.close();
  }
}

/**
 * Writes a new file owned by the server's user: what stood at the name (a link included) is
 * removed first, and O_EXCL makes the creation fail rather than follow a link put back meanwhile.
 */
export async function writeServerFile(file: string, text: string, mode = 0o600): Promise<void> {
  await rm(file, { recursive: true, force: true });
  const handle = await open(
    file,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    mode,
  );
  try {
    await handle.writeFile(text, 'utf8');
    if (runningAsRoot()) {
      const { uid, gid } = await serverUserIds();
      await handle.chown(uid, gid);
    }
  } finally {
    await handle.close();
  }
}
