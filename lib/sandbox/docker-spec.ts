/**
 * What a docker sandbox is made of, without touching Docker: the image of the server's major, the
 * limits, the confinement, and how the worker reaches the server. The image
 * (docker/sandbox/Dockerfile) runs PostgreSQL as an unprivileged user from its first instruction,
 * so the container gets no capability at all.
 */
import { randomBytes } from 'node:crypto';
import { HindsightError } from '../errors.ts';
import { scramSha256Verifier } from '../pg/backup-role.ts';
import { currentOwner, type SandboxOwner } from './owner.ts';

export const SANDBOX_LABEL = 'hindsight.sandbox';
export const OWNER_LABELS = {
  host: 'hindsight.owner.host',
  pid: 'hindsight.owner.pid',
  start: 'hindsight.owner.start',
} as const;
/** Host mode: the host directory the server's socket is in, removed by whoever removes the container. */
export const SOCKET_DIR_LABEL = 'hindsight.sandbox.socket-dir';

/** Built by scripts/docker/sandbox-images.sh, one tag per PostgreSQL major. */
export const SANDBOX_IMAGE_REPOSITORY = 'hindsight-sandbox-pg';
export const sandboxImage = (major: number): string => `${SANDBOX_IMAGE_REPOSITORY}:${major}`;

/** The image's server user (docker/sandbox/Dockerfile): owns the data volume and, in host mode, the socket directory. */
export const SANDBOX_IMAGE_UID = 61432;
/** Where the image's server puts its socket; in host mode a directory of the worker's is mounted there. */
export const CONTAINER_SOCKET_DIR = '/run/hindsight-sandbox';
export const CONTAINER_PORT = 5432;
export const DEFAULT_NAME_PREFIX = 'hindsight-sbx';

/** Docker's own rule for network names, checked before a name goes to the engine. */
export const dockerNetworkName = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;

/**
 * How the worker reaches the server. `socket`: the container has no network at all and the
 * server's unix socket appears in a directory on the worker's disk (the worker runs on the
 * engine's host). `network`: the container is attached to one internal Docker network only, which
 * the worker's own container shares; the server listens on TCP there, behind its scram password.
 */
export type SandboxReach = { kind: 'socket'; hostDir: string } | { kind: 'network'; network: string };

export interface SandboxContainerSpecOptions {
  /** The server's major: the image's tag. */
  major: number;
  /** CPUs the container may use (fractions allowed). */
  cpus: number;
  /** Memory limit, swap and tmpfs included. */
  memoryMb: number;
  label: string;
  reach: SandboxReach;
  /** Fixed in tests; random otherwise. */
  id?: string;
  password?: string;
  owner?: SandboxOwner;
  namePrefix?: string;
}

export interface SandboxHostConfig {
  NetworkMode: string;
  NanoCpus: number;
  Memory: number;
  MemorySwap: number;
  PidsLimit: number;
  ShmSize: number;
  CapDrop: string[];
  CapAdd: string[];
  SecurityOpt: string[];
  ReadonlyRootfs: boolean;
  IpcMode: string;
  Tmpfs: Record<string, string>;
  Binds: string[];
}

export interface SandboxContainerSpec {
  id: string;
  image: string;
  name: string;
  /** The server's superuser (a database role, not an OS user) and its password, which stays in the worker. */
  user: string;
  password: string;
  /** Only the password's scram-sha-256 verifier enters the container: no login can be made from it. */
  env: Record<string, string>;
  /** Arguments to the image's entrypoint, passed on to `postgres`. */
  command: string[];
  labels: Record<string, string>;
  reach: SandboxReach;
  hostConfig: SandboxHostConfig;
}

function checkLimits(major: number, cpus: number, memoryMb: number): void {
  if (!Number.isInteger(major) || major < 9)
    throw new HindsightError('bad_input', `"${major}" is not a PostgreSQL major version`);
  if (!(cpus > 0)) throw new HindsightError('bad_input', `a sandbox needs a positive CPU limit, not ${cpus}`);
  if (!Number.isInteger(memoryMb) || memoryMb < 256)
    throw new HindsightError('bad_input', `a sandbox needs at least 256 MB of memory, not ${memoryMb}`);
}

/** Server settings: no fsync (nothing in a sandbox has to survive), and a listener only where the worker comes from. */
function serverSettings(reach: SandboxReach): Record<string, string> {
  const listen =
    reach.kind === 'network'
      ? { listen_addresses: '*', unix_socket_directories: '' }
      : // The socket's directory is what guards it (the worker's 0700 sandbox directory on the host).
        { listen_addresses: '', unix_socket_directories: CONTAINER_SOCKET_DIR };
  return {
    ...listen,
    port: String(CONTAINER_PORT),
    fsync: 'off',
    full_page_writes: 'off',
    synchronous_commit: 'off',
    logging_collector: 'off',
  };
}

/** Everything a sandbox container is made from. */
export function sandboxContainerSpec(options: SandboxContainerSpecOptions): SandboxContainerSpec {
  const { major, cpus, memoryMb, label, reach } = options;
  checkLimits(major, cpus, memoryMb);
  if (reach.kind === 'network' && !dockerNetworkName.test(reach.network))
    throw new HindsightError('bad_input', `"${reach.network}" is not a Docker network name`);
  const id = options.id ?? randomBytes(6).toString('hex');
  const password = options.password ?? randomBytes(24).toString('base64url');
  const owner = options.owner ?? currentOwner();
  const memory = memoryMb * 1024 * 1024;
  const name = `${options.namePrefix ?? DEFAULT_NAME_PREFIX}-${id}`;
  return {
    id,
    image: sandboxImage(major),
    name,
    user: 'postgres',
    password,
    env: { HINDSIGHT_SANDBOX_VERIFIER: scramSha256Verifier(password) },
    command: Object.entries(serverSettings(reach)).flatMap(([setting, value]) => ['-c', `${setting}=${value}`]),
    labels: {
      [SANDBOX_LABEL]: id,
      'hindsight.sandbox.label': label,
      'hindsight.sandbox.major': String(major),
      [OWNER_LABELS.host]: owner.host,
      [OWNER_LABELS.pid]: String(owner.pid),
      [OWNER_LABELS.start]: owner.start ?? '',
      ...(reach.kind === 'socket' ? { [SOCKET_DIR_LABEL]: reach.hostDir } : {}),
    },
    reach,
    hostConfig: {
      // No network at all, or the one internal network the worker shares: never a bridge with a way out.
      NetworkMode: reach.kind === 'network' ? reach.network : 'none',
      NanoCpus: Math.round(cpus * 1e9),
      Memory: memory,
      MemorySwap: memory,
      PidsLimit: 512,
      ShmSize: 256 * 1024 * 1024,
      CapDrop: ['ALL'],
      CapAdd: [],
      SecurityOpt: ['no-new-privileges:true'],
      ReadonlyRootfs: true,
      IpcMode: 'private',
      // The data directory is the image's anonymous volume; /tmp holds initdb's password file for a moment.
      Tmpfs: { '/tmp': 'rw,nosuid,nodev,noexec,size=16m' },
      Binds: reach.kind === 'socket' ? [`${reach.hostDir}:${CONTAINER_SOCKET_DIR}:rw`] : [],
    },
  };
}

/** One line for the report: who the server runs as and what it cannot reach. */
export function confinementDetail(spec: SandboxContainerSpec, cpus: number, memoryMb: number): string {
  const reach =
    spec.reach.kind === 'network'
      ? `only the internal Docker network ${spec.reach.network}`
      : "no network (unix socket in a directory of the worker's)";
  return `container ${spec.name} (${spec.image}) as uid ${SANDBOX_IMAGE_UID}: no capabilities, no new privileges, read-only root filesystem, ${reach}, ${cpus} CPU, ${memoryMb} MB, ${spec.hostConfig.PidsLimit} processes`;
}
