/**
 * Which parts of a storage's settings need the installation's privileges (services/authz.ts):
 * whatever makes the shared worker run a program, reach a path outside the workspace's own
 * storage root, or sign in with the worker's own credentials. A setting the storage already had is no new grant, so an admin may still edit a
 * storage the instance owner set up (e.g. a NAS path outside the root) without touching that part.
 */
import type { StorageConfig } from '../../lib/storage/index.ts';
import { isInsideRoot, workspaceStorageRoot } from '../../lib/storage/local/root.ts';
import { flagsOutsideAllowList, remoteProblem, WORKSPACE_RCLONE_FLAGS } from '../../lib/storage/rclone/policy.ts';
import type { InstanceRefusal } from '../authz.ts';

const ONLY_OWNER = 'only the instance owner may';

export interface StorageScope {
  /** HINDSIGHT_LOCAL_STORAGE_ROOT: each workspace has a directory of its own under it. */
  instanceRoot: string;
  workspaceName: string;
}

async function localRefusals(
  config: Extract<StorageConfig, { type: 'local' }>,
  before: StorageConfig | undefined,
  scope: StorageScope,
): Promise<InstanceRefusal[]> {
  if (before?.type === 'local' && before.path === config.path) return [];
  const root = workspaceStorageRoot(scope.instanceRoot, scope.workspaceName);
  if (await isInsideRoot(config.path, root)) return [];
  return [
    {
      privilege: 'storage.localPath',
      reason:
        `local path "${config.path}" is outside the storage root of workspace "${scope.workspaceName}" (${root}), ` +
        `after resolving ".." and symlinks: a path elsewhere on the shared worker could read or overwrite other workspaces' files, so ${ONLY_OWNER} choose it (use a directory under ${root})`,
    },
  ];
}

function rcloneRefusals(
  config: Extract<StorageConfig, { type: 'rclone' }>,
  before: StorageConfig | undefined,
): InstanceRefusal[] {
  const had = before?.type === 'rclone' ? before : undefined;
  const refusals: InstanceRefusal[] = [];
  if (config.rcloneBinary !== undefined && config.rcloneBinary !== had?.rcloneBinary) {
    refusals.push({
      privilege: 'storage.rcloneBinary',
      reason: `rcloneBinary names a program for the shared worker to run: ${ONLY_OWNER} set it (rclone storages run the instance's rclone, HINDSIGHT_RCLONE_BINARY)`,
    });
  }
  if (config.configText !== undefined && config.configText !== had?.configText) {
    refusals.push({
      privilege: 'storage.rcloneConfig',
      reason:
        `an rclone config can define backends that run programs or read files on the shared worker: ${ONLY_OWNER} set configText ` +
        '(use a connection-string remote such as ":s3,provider=AWS,region=eu-west-1:bucket/path", or the s3, sftp, azure or ftp storage types, whose secrets are sealed)',
    });
  }
  const newFlags = (config.extraFlags ?? []).filter((flag) => !(had?.extraFlags ?? []).includes(flag));
  for (const name of flagsOutsideAllowList(newFlags)) {
    refusals.push({
      privilege: 'storage.rcloneFlag',
      reason: `rclone flag "${name}" is not on the allow-list for workspace admins (flags can run programs or reach files on the shared worker): ${ONLY_OWNER} pass it (allowed: ${Object.keys(WORKSPACE_RCLONE_FLAGS).join(', ')})`,
    });
  }
  const problem = config.remote === had?.remote ? undefined : remoteProblem(config.remote);
  if (problem)
    refusals.push({ privilege: 'storage.rcloneRemote', reason: `${problem}: ${ONLY_OWNER} use it in a remote` });
  return refusals;
}

/**
 * An S3 storage without keys signs in with the AWS SDK's default chain: the worker's environment,
 * ~/.aws and its instance role, which may reach every workspace's buckets.
 */
function s3Refusals(
  config: Extract<StorageConfig, { type: 's3' }>,
  before: StorageConfig | undefined,
): InstanceRefusal[] {
  if (config.accessKeyId !== undefined) return [];
  if (
    before?.type === 's3' &&
    before.accessKeyId === undefined &&
    before.bucket === config.bucket &&
    before.endpoint === config.endpoint
  )
    return [];
  return [
    {
      privilege: 'storage.workerCredentials',
      reason: `an s3 storage without accessKeyId signs in with the shared worker's own AWS credentials, which may reach other workspaces' buckets: ${ONLY_OWNER} use them (give accessKeyId and secretAccessKey)`,
    },
  ];
}

/** What in `config` needs the instance's privileges, given what the storage held before (undefined for a new one). */
export async function storageRefusals(
  config: StorageConfig,
  before: StorageConfig | undefined,
  scope: StorageScope,
): Promise<InstanceRefusal[]> {
  if (config.type === 'local') return localRefusals(config, before, scope);
  if (config.type === 'rclone') return rcloneRefusals(config, before);
  if (config.type === 's3') return s3Refusals(config, before);
  return [];
}
