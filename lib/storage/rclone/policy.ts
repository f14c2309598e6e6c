/**
 * What of an rclone storage a workspace admin may choose. rclone is a program on the shared
 * worker, and much of what it accepts runs other programs or reads the worker's files: flags
 * such as --password-command or --log-file, backends such as local, alias or crypt, parameters
 * such as sftp's ssh or s3's env_auth. A workspace admin gets the flags below, the network
 * backends below, and parameters that only describe a remote service; anything else is for the
 * instance owner (services/storages/privileges.ts decides who is asking).
 */

/** Flags a workspace admin may pass, each with why it is harmless: it tunes throughput, memory or retries of the admin's own transfers. */
export const WORKSPACE_RCLONE_FLAGS: Readonly<Record<string, string>> = {
  '--bwlimit': 'caps the bandwidth a backup uses',
  '--transfers': 'how many files move at once: throughput only',
  '--checkers': 'how many checks run at once: throughput only',
  '--buffer-size': 'read-ahead memory per transfer',
  '--timeout': 'idle timeout of a connection to the remote',
  '--contimeout': 'connect timeout to the remote',
  '--retries': 'how often a failed operation is retried',
  '--retries-sleep': 'the pause between those retries',
  '--low-level-retries': 'how often a failed request is retried',
  '--tpslimit': 'caps API calls per second, for providers that throttle',
  '--tpslimit-burst': 'the burst allowed above that cap',
  '--multi-thread-streams': 'parallel streams of one download',
  '--multi-thread-cutoff': 'the size from which a download uses them',
  '--use-server-modtime': 'saves metadata calls on listings',
  '--fast-list': 'lists with fewer, larger requests',
  '--user-agent': 'some providers throttle by user agent',
  '--s3-chunk-size': 'multipart part size (memory per upload)',
  '--s3-upload-concurrency': 'parts uploaded at once (memory per upload)',
  '--s3-upload-cutoff': 'the size from which uploads go multipart',
  '--s3-no-check-bucket': 'for keys that may write objects but not create buckets',
  '--s3-storage-class': "a cheaper storage tier of the admin's own bucket",
  '--s3-force-path-style': 'addressing style of S3-compatible servers',
  '--b2-chunk-size': 'upload chunk size (memory per upload)',
  '--b2-upload-cutoff': 'the size from which uploads are chunked',
  '--drive-chunk-size': 'upload chunk size (memory per upload)',
  '--drive-upload-cutoff': 'the size from which uploads are chunked',
  '--onedrive-chunk-size': 'upload chunk size (memory per upload)',
  '--dropbox-chunk-size': 'upload chunk size (memory per upload)',
  '--azureblob-chunk-size': 'upload block size (memory per upload)',
  '--swift-chunk-size': 'segment size of large uploads',
};

/**
 * Backends a workspace admin may name in a connection-string remote (`:s3,…:bucket`): each talks
 * to a remote service over the network. Left out on purpose: local, alias, union, combine,
 * chunker, crypt, compress, hasher, cache and memory, which reach the worker's disk, wrap other
 * remotes (a wrapped remote may be a local path) or live in the worker's memory.
 */
export const WORKSPACE_RCLONE_BACKENDS: ReadonlySet<string> = new Set([
  's3',
  'b2',
  'gcs',
  'google cloud storage',
  'azureblob',
  'azurefiles',
  'swift',
  'webdav',
  'sftp',
  'ftp',
  'smb',
  'drive',
  'dropbox',
  'onedrive',
  'box',
  'pcloud',
  'mega',
  'storj',
  'seafile',
  'koofr',
  'jottacloud',
  'yandex',
  'opendrive',
  'hidrive',
  'oracleobjectstorage',
  'qingstor',
  'mailru',
  'putio',
  'pikpak',
  'sharefile',
  'sugarsync',
  'zoho',
  'internetarchive',
  'filefabric',
  'netstorage',
  'quatrix',
  'protondrive',
]);

/**
 * Parameter names that run a program (sftp `ssh`, webdav `bearer_token_command`), read the
 * worker's files or credentials (`*_file`, `env_auth`, `use_msi`, `key_use_agent`, `profile`), or
 * point a wrapper at another remote (`remote`, `upstreams`). Matched on the normalized name.
 */
const WORKER_REACHING_PARAMETER =
  /command|ssh|file|env_auth|agent|msi|profile|socket|cert|client_key|config|cache|dir|remote|upstream|path|exec|program/;

/** The flag's name as rclone reads it: before "=", lowercase, "_" as "-". */
export function rcloneFlagName(flag: string): string {
  return flag.split('=')[0]!.toLowerCase().replace(/_/g, '-');
}

/** Flag names (never their values, which may be secrets) a workspace admin may not pass. */
export function flagsOutsideAllowList(flags: readonly string[]): string[] {
  return [...new Set(flags.map(rcloneFlagName).filter((name) => !Object.hasOwn(WORKSPACE_RCLONE_FLAGS, name)))];
}

export interface ParsedRemote {
  /** `:backend…:` makes a remote on the fly from a backend; otherwise `name` is a config section. */
  onTheFly: boolean;
  name: string;
  /** Connection-string parameters (`name,key=value:`), which override or add to the backend's settings. */
  parameters: string[];
}

/**
 * The head of an rclone remote as rclone's fspath.Parse reads it: `[:]name[,key=value…]:path`,
 * where a value may be quoted with ' or " (a doubled quote inside stands for one).
 */
export function parseRcloneRemote(remote: string): ParsedRemote | undefined {
  let i = 0;
  const onTheFly = remote.startsWith(':');
  if (onTheFly) i = 1;
  const readUntil = (stops: string): string => {
    const start = i;
    while (i < remote.length && !stops.includes(remote[i]!)) i += 1;
    return remote.slice(start, i);
  };
  const name = readUntil(',:');
  const parameters: string[] = [];
  while (remote[i] === ',') {
    i += 1;
    parameters.push(readUntil('=,:').trim().toLowerCase().replace(/-/g, '_'));
    if (remote[i] !== '=') continue;
    i += 1;
    const quote = remote[i];
    if (quote === '"' || quote === "'") {
      i += 1;
      for (;;) {
        if (i >= remote.length) return undefined;
        if (remote[i] === quote && remote[i + 1] === quote) i += 2;
        else if (remote[i] === quote) {
          i += 1;
          break;
        } else i += 1;
      }
    } else readUntil(',:');
  }
  if (remote[i] !== ':') return undefined;
  return { onTheFly, name: name.trim().toLowerCase(), parameters };
}

/** Why a workspace admin may not use this remote, or undefined when they may. Never repeats parameter values. */
export function remoteProblem(remote: string): string | undefined {
  const parsed = parseRcloneRemote(remote);
  if (!parsed) return 'the remote cannot be read as "name:path" or ":backend,key=value:path"';
  if (parsed.onTheFly && !WORKSPACE_RCLONE_BACKENDS.has(parsed.name)) {
    return `rclone backend "${parsed.name}" reaches the shared worker's own files or wraps other remotes (network backends such as s3, sftp, webdav or drive are open to workspace admins)`;
  }
  const reaching = parsed.parameters.find((p) => WORKER_REACHING_PARAMETER.test(p));
  if (reaching) return `rclone parameter "${reaching}" can run a program or read files on the shared worker`;
  return undefined;
}
