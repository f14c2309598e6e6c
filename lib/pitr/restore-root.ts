/**
 * Confines point-in-time restores to a directory to the roots configured on the worker or agent
 * that runs them (HINDSIGHT_RESTORE_ROOT). A restore creates a directory, fills it with content
 * the source controls and hands it to the sandbox user: without a root, anyone allowed to start a
 * restore could have that happen in /etc/…/conf.d or a service's drop-in directory of the host.
 */
import { lstat, realpath } from 'node:fs/promises';
import path from 'node:path';
import { HindsightError } from '../errors.ts';

export const RESTORE_ROOT_SETTING = 'HINDSIGHT_RESTORE_ROOT';

/** The real path of `dir`: symbolic links and `..` resolved through its longest existing part. */
export async function resolveThroughExisting(dir: string): Promise<string> {
  const absolute = path.resolve(dir);
  const missing: string[] = [];
  let existing = absolute;
  for (;;) {
    if (
      await lstat(existing).then(
        () => true,
        () => false,
      )
    )
      break;
    const parent = path.dirname(existing);
    if (parent === existing) break;
    missing.unshift(path.basename(existing));
    existing = parent;
  }
  const real = await realpath(existing).catch(() => existing);
  return path.join(real, ...missing);
}

const within = (root: string, dir: string) => dir.startsWith(root.endsWith(path.sep) ? root : `${root}${path.sep}`);

/**
 * The real path of a restore directory, or a non-retryable error naming the roots and the
 * setting when it lies outside every one of them (a root itself is not a restore directory).
 */
export async function confineRestoreDirectory(dir: string, roots: readonly string[]): Promise<string> {
  const resolved = await resolveThroughExisting(dir);
  const realRoots = await Promise.all(roots.map((root) => resolveThroughExisting(root)));
  if (realRoots.some((root) => within(root, resolved))) return resolved;
  const shown = roots.length > 0 ? roots.join(', ') : '(none)';
  throw new HindsightError(
    'bad_input',
    `restore directory ${dir}${resolved !== path.resolve(dir) ? ` (really ${resolved})` : ''} is outside the restore root of this worker (${shown}): choose a directory under it, or set ${RESTORE_ROOT_SETTING} on the worker or agent that restores (directories separated by ":")`,
  );
}
