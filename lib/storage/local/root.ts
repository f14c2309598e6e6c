import { mkdir, realpath } from 'node:fs/promises';
import path from 'node:path';
import { NAME_PATTERN } from '../../names.ts';

/**
 * Local storages of a workspace admin are confined to <root>/<workspace name>: the worker can
 * write anywhere it may, so a path elsewhere could read another workspace's backups, the
 * catalog or the secret key. Workspace names are lowercase letters, digits, "_" and "-", so each
 * is one plain directory name.
 */
export function workspaceStorageRoot(instanceRoot: string, workspaceName: string): string {
  if (!NAME_PATTERN.test(workspaceName)) throw new Error(`workspace name "${workspaceName}" cannot name a directory`);
  return path.join(path.resolve(instanceRoot), workspaceName);
}

/**
 * Where a path really leads: `..` resolved, and the symlinks of its nearest existing ancestor
 * followed (the rest does not exist yet, so no link can hide in it until someone creates one).
 */
export async function resolveThroughLinks(target: string): Promise<string> {
  const rest: string[] = [];
  let current = path.resolve(target);
  for (;;) {
    try {
      return path.join(await realpath(current), ...rest.reverse());
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw error;
      const parent = path.dirname(current);
      if (parent === current) return path.join(current, ...rest.reverse());
      rest.push(path.basename(current));
      current = parent;
    }
  }
}

/** Whether `target` lies at or under `root`, both resolved through links; the root is created (0700) if missing, so links above it count too. */
export async function isInsideRoot(target: string, root: string): Promise<boolean> {
  await mkdir(root, { recursive: true, mode: 0o700 });
  const [resolvedRoot, resolvedTarget] = await Promise.all([resolveThroughLinks(root), resolveThroughLinks(target)]);
  const relative = path.relative(resolvedRoot, resolvedTarget);
  return relative === '' || (relative !== '..' && !relative.startsWith(`..${path.sep}`) && !path.isAbsolute(relative));
}
