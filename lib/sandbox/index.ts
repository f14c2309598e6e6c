import { statSync } from 'node:fs';
import { HindsightError, errorMessage } from '../errors.ts';
import { createLogger, type Logger } from '../logger.ts';
import type { SandboxDriver, SandboxDriverName } from './contract.ts';
import type * as DockerDriverModule from './docker.ts';
import { createProcessSandboxDriver } from './process.ts';

export type SandboxPreference = SandboxDriverName | 'auto';

const DEFAULT_DOCKER_SOCKET = '/var/run/docker.sock';

function isSocket(file: string): boolean {
  try {
    return statSync(file).isSocket();
  } catch {
    return false;
  }
}

/** The local socket the Docker engine would be reached through; a tcp:// or ssh:// DOCKER_HOST is not one. */
function dockerSocketPath(): string | undefined {
  const host = process.env.DOCKER_HOST;
  if (host) return host.startsWith('unix://') ? host.slice('unix://'.length) : undefined;
  return DEFAULT_DOCKER_SOCKET;
}

/**
 * Which driver runs sandboxes: `auto` takes docker when a local Docker socket exists, the process
 * driver otherwise. A remote engine (tcp:// DOCKER_HOST) is used only when docker is asked for.
 */
export function chooseSandboxDriver(
  options: { preferred?: SandboxPreference; dockerSocket?: string } = {},
): SandboxDriverName {
  const preferred = options.preferred ?? 'auto';
  if (preferred !== 'auto') return preferred;
  const socket = options.dockerSocket ?? dockerSocketPath();
  return socket !== undefined && isSocket(socket) ? 'docker' : 'process';
}

export interface SandboxDriverOptions {
  /** Default: HINDSIGHT_SANDBOX_DRIVER, else `auto`. */
  preferred?: SandboxPreference;
  dockerSocket?: string;
  /** Where the process driver keeps sandbox directories. */
  root?: string;
  /** Per-sandbox limits of the docker driver. */
  cpus?: number;
  memoryMb?: number;
  /** The internal Docker network docker sandboxes join. Default: HINDSIGHT_SANDBOX_DOCKER_NETWORK, else none (no network at all). */
  dockerNetwork?: string;
  /** Names of docker sandbox containers start with it (default `hindsight-sbx`). */
  dockerNamePrefix?: string;
  /** Where `auto` says why it did not take docker. Default: the `sandbox` logger. */
  logger?: Pick<Logger, 'warn'>;
  /** Replaces the dynamic import of the docker driver module (tests). */
  loadDockerDriver?: () => Promise<Pick<typeof DockerDriverModule, 'createDockerSandboxDriver'>>;
  /** How long `auto` waits for the Docker engine to answer. Default 20 s. */
  engineTimeoutMs?: number;
}

function preferenceFromEnv(): SandboxPreference | undefined {
  const value = process.env.HINDSIGHT_SANDBOX_DRIVER;
  if (value === undefined || value === '') return undefined;
  if (value === 'auto' || value === 'process' || value === 'docker') return value;
  throw new HindsightError('bad_input', `HINDSIGHT_SANDBOX_DRIVER must be auto, process or docker, not "${value}"`);
}

/** The docker driver module and testcontainers load only here: a machine without Docker never pulls them in. */
async function loadDockerDriver(options: SandboxDriverOptions): Promise<SandboxDriver> {
  const load = options.loadDockerDriver ?? (() => import('./docker.ts'));
  const { createDockerSandboxDriver } = await load();
  const memoryMb = options.memoryMb === undefined ? undefined : Math.floor(options.memoryMb);
  const network = options.dockerNetwork ?? (process.env.HINDSIGHT_SANDBOX_DOCKER_NETWORK || undefined);
  return createDockerSandboxDriver({
    cpus: options.cpus,
    memoryMb,
    dockerSocket: options.dockerSocket,
    network,
    namePrefix: options.dockerNamePrefix,
    ...(options.root ? { root: options.root } : {}),
  });
}

/**
 * Proves that the docker driver works here: its sweep of leftover sandboxes (which the worker runs
 * first anyway) loads testcontainers and asks the engine for its containers, then for its sandbox
 * images. A socket that never answers counts as no engine after `timeoutMs`.
 */
async function provenDockerDriver(options: SandboxDriverOptions, timeoutMs: number): Promise<SandboxDriver> {
  const driver = await loadDockerDriver(options);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`the Docker engine did not answer within ${timeoutMs / 1000} s`)),
      timeoutMs,
    );
  });
  const sweep = driver.sweepLeftovers();
  sweep.catch(() => undefined); // After a timeout its own failure is of no interest.
  try {
    await Promise.race([sweep, timeout]);
  } finally {
    clearTimeout(timer);
  }
  // An engine without sandbox images would fail every verification: `auto` then keeps the process driver.
  const majors = await driver.availableMajors?.();
  if (majors !== undefined && majors.length === 0) {
    throw new Error(
      'the Docker engine holds no hindsight-sandbox-pg image (build them with scripts/docker/sandbox-images.sh)',
    );
  }
  return driver;
}

/**
 * The driver that runs sandboxes. `process` and `docker` are taken as asked. `auto` takes docker
 * when a local Docker socket exists and the driver loads and reaches the engine through it; when
 * it does not, the worker still starts: the reason is logged and the process driver is used.
 */
export async function createSandboxDriver(options: SandboxDriverOptions = {}): Promise<SandboxDriver> {
  const preferred = options.preferred ?? preferenceFromEnv() ?? 'auto';
  const name = chooseSandboxDriver({ preferred, dockerSocket: options.dockerSocket });
  if (name === 'process') return createProcessSandboxDriver({ root: options.root });
  if (preferred === 'docker') return loadDockerDriver(options);
  try {
    return await provenDockerDriver(options, options.engineTimeoutMs ?? 20_000);
  } catch (error) {
    const logger = options.logger ?? createLogger('sandbox');
    const socket = options.dockerSocket ?? dockerSocketPath();
    logger.warn(
      { dockerSocket: socket, reason: errorMessage(error) },
      'a Docker socket exists but the docker sandbox driver cannot use it; sandboxes run with the process driver (set HINDSIGHT_SANDBOX_DRIVER=process to skip this check)',
    );
    return createProcessSandboxDriver({ root: options.root });
  }
}

export type {
  Sandbox,
  SandboxConfinement,
  SandboxCreateOptions,
  SandboxDriver,
  SandboxDriverName,
} from './contract.ts';
export { RESTORE_ROLE, prepareRestoreDatabase, type RestoreDatabase } from './restore-role.ts';
