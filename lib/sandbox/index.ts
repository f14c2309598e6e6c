import { statSync } from 'node:fs';
import { HindsightError } from '../errors.ts';
import type { SandboxDriver, SandboxDriverName } from './contract.ts';
import { createDockerSandboxDriver } from './docker.ts';
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
export function chooseSandboxDriver(options: { preferred?: SandboxPreference; dockerSocket?: string } = {}): SandboxDriverName {
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
}

function preferenceFromEnv(): SandboxPreference | undefined {
  const value = process.env.HINDSIGHT_SANDBOX_DRIVER;
  if (value === undefined || value === '') return undefined;
  if (value === 'auto' || value === 'process' || value === 'docker') return value;
  throw new HindsightError('bad_input', `HINDSIGHT_SANDBOX_DRIVER must be auto, process or docker, not "${value}"`);
}

export function createSandboxDriver(options: SandboxDriverOptions = {}): SandboxDriver {
  const name = chooseSandboxDriver({ preferred: options.preferred ?? preferenceFromEnv() ?? 'auto', dockerSocket: options.dockerSocket });
  if (name === 'docker') {
    const memoryMb = options.memoryMb === undefined ? undefined : Math.floor(options.memoryMb);
    return createDockerSandboxDriver({ cpus: options.cpus, memoryMb, dockerSocket: options.dockerSocket });
  }
  return createProcessSandboxDriver({ root: options.root });
}

export type { Sandbox, SandboxConfinement, SandboxCreateOptions, SandboxDriver, SandboxDriverName } from './contract.ts';
export { RESTORE_ROLE, prepareRestoreDatabase, type RestoreDatabase } from './restore-role.ts';
