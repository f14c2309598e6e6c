import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type * as Testcontainers from 'testcontainers';
import { HindsightError, errorMessage } from '../errors.ts';
import type { PgTarget } from '../pg/connection.ts';
import { NEWEST_SUPPORTED_MAJOR } from './binaries.ts';
import type { Sandbox, SandboxCreateOptions, SandboxDriver } from './contract.ts';
import {
  CONTAINER_PORT,
  SANDBOX_IMAGE_UID,
  SANDBOX_LABEL,
  SOCKET_DIR_LABEL,
  confinementDetail,
  dockerNetworkName,
  sandboxContainerSpec,
  sandboxImage,
  type SandboxContainerSpec,
  type SandboxReach,
} from './docker-spec.ts';
import { containerLogTail, isMissing, orphanedBy, type Docker } from './docker-engine.ts';
import { defaultSandboxRoot } from './process.ts';
import { waitUntilAccepting } from './server-process.ts';

export { SANDBOX_LABEL, sandboxContainerSpec, type SandboxContainerSpec } from './docker-spec.ts';

type TestcontainersModule = typeof Testcontainers;

/** Loaded only when a docker sandbox is used, so that the process driver never pulls it in. */
const importTestcontainers = (): Promise<TestcontainersModule> => import('testcontainers');

export function testcontainersLoadError(error: unknown): Error {
  const code = (error as { code?: string }).code;
  if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
    return new HindsightError(
      'bad_input',
      `install testcontainers to use the docker sandbox driver (npm install testcontainers), or use the process driver (${errorMessage(error)})`,
      { cause: error },
    );
  }
  return new HindsightError('tool_failed', `the testcontainers package failed to load: ${errorMessage(error)}`, {
    cause: error,
  });
}

export interface DockerSandboxOptions {
  /** Per-sandbox limits. */
  cpus?: number;
  memoryMb?: number;
  /** A unix socket of the Docker engine other than DOCKER_HOST or /var/run/docker.sock. */
  dockerSocket?: string;
  /**
   * An internal Docker network the worker's own container is attached to (HINDSIGHT_SANDBOX_DOCKER_NETWORK):
   * sandboxes join it and nothing else. Without it the worker must run on the engine's host, and
   * sandboxes get no network at all.
   */
  network?: string;
  /** Where host-mode socket directories go (the process driver's sandbox root). */
  root?: string;
  /** Container names are `<prefix>-<id>`; default `hindsight-sbx`. */
  namePrefix?: string;
  /** Replaces the dynamic import (tests). */
  load?: () => Promise<TestcontainersModule>;
}

const SOCKET_DIR = /^dsbx-([a-z0-9]+)$/;
/** The oldest major Hindsight backs up; images older than it are not looked for at start. */
const OLDEST_IMAGE_MAJOR = 13;
/** A socket directory without its container may be one whose container is being created: left alone this long. */
const UNOWNED_GRACE_MS = 60_000;

/** The lowest major ≥ the source's that has an image on the engine: a dump loads into a newer server, never an older one. */
async function imageForSource(
  tc: TestcontainersModule,
  client: Testcontainers.ContainerRuntimeClient,
  sourceMajor: number,
): Promise<number> {
  for (let major = sourceMajor; major <= Math.max(sourceMajor, NEWEST_SUPPORTED_MAJOR); major += 1) {
    if (await client.image.exists(tc.ImageName.fromString(sandboxImage(major)))) return major;
  }
  throw new HindsightError(
    'not_found',
    `no docker sandbox image for PostgreSQL ${sourceMajor} or newer on the Docker engine (${sandboxImage(sourceMajor)} … ${sandboxImage(NEWEST_SUPPORTED_MAJOR)}): build them with scripts/docker/sandbox-images.sh, or use the process driver (HINDSIGHT_SANDBOX_DRIVER=process)`,
  );
}

/** The sandbox network must exist and be internal: a network with a way out would let a restored dump reach it. */
async function checkNetwork(docker: Docker, name: string): Promise<void> {
  const info = (await docker
    .getNetwork(name)
    .inspect()
    .catch((error: unknown) => {
      if (isMissing(error))
        throw new HindsightError(
          'bad_input',
          `HINDSIGHT_SANDBOX_DOCKER_NETWORK names the Docker network "${name}", which does not exist: create it with \`docker network create --internal ${name}\` and attach the worker to it`,
        );
      throw error;
    })) as { Internal?: boolean };
  if (info.Internal !== true) {
    throw new HindsightError(
      'bad_input',
      `the Docker network "${name}" (HINDSIGHT_SANDBOX_DOCKER_NETWORK) is not internal, so a sandbox on it could reach the outside: recreate it with \`docker network create --internal ${name}\` (compose: \`internal: true\`)`,
    );
  }
}

/** Host mode: `<root>/dsbx-<id>/` (the worker's, 0700) holding `socket/`, which the image's server user writes its socket into. */
async function makeSocketDir(root: string, id: string): Promise<string> {
  await mkdir(root, { recursive: true, mode: 0o711 });
  const dir = path.join(root, `dsbx-${id}`);
  const socketDir = path.join(dir, 'socket');
  if (Buffer.byteLength(path.join(socketDir, `.s.PGSQL.${CONTAINER_PORT}.lock`)) > 107) {
    throw new HindsightError(
      'bad_input',
      `sandbox root ${root} is too deep for a unix socket path inside it: choose a shorter one (HINDSIGHT_SANDBOX_ROOT)`,
    );
  }
  await mkdir(dir, { mode: 0o700 });
  await mkdir(socketDir, { mode: 0o700 });
  // Root hands the directory to the image's user; anyone else opens it, still behind the 0700 parent.
  if (process.getuid?.() === 0) await chown(socketDir, SANDBOX_IMAGE_UID, SANDBOX_IMAGE_UID);
  else await chmod(socketDir, 0o777);
  return socketDir;
}

/** What every operation of one docker driver shares: its options, resolved once. */
interface DockerDriverConfig {
  options: DockerSandboxOptions;
  cpus: number;
  memoryMb: number;
  load: () => Promise<TestcontainersModule>;
  root: string;
  network: string | undefined;
}

/** The unix socket the engine was named at (the option, else DOCKER_HOST), if one was. */
function namedSocket(options: DockerSandboxOptions): string | undefined {
  if (options.dockerSocket) return options.dockerSocket;
  const host = process.env.DOCKER_HOST;
  return host?.startsWith('unix://') ? host.slice('unix://'.length) : undefined;
}

interface Runtime {
  tc: TestcontainersModule;
  client: Testcontainers.ContainerRuntimeClient;
}

async function runtime(config: DockerDriverConfig): Promise<Runtime> {
  const { options } = config;
  // testcontainers finds the engine through DOCKER_HOST (or its own properties file).
  if (options.dockerSocket && !process.env.DOCKER_HOST) process.env.DOCKER_HOST = `unix://${options.dockerSocket}`;
  const tc = await config.load().catch((error: unknown) => {
    throw testcontainersLoadError(error);
  });
  let client: Testcontainers.ContainerRuntimeClient;
  try {
    client = await tc.getContainerRuntimeClient();
  } catch (error) {
    throw new HindsightError(
      'unreachable',
      `no Docker engine answers for the docker sandbox driver: ${errorMessage(error)}`,
      { cause: error },
    );
  }
  // testcontainers tries other places when the named engine fails: sandboxes go to the one named, or nowhere.
  const wanted = namedSocket(options);
  const used = (client.container.dockerode.modem as { socketPath?: unknown }).socketPath;
  if (wanted !== undefined && (typeof used !== 'string' || path.resolve(used) !== path.resolve(wanted))) {
    throw new HindsightError(
      'unreachable',
      `the Docker engine at ${wanted} does not answer (another engine answers at ${typeof used === 'string' ? used : 'a TCP address'}; it is not used in its place)`,
    );
  }
  return { tc, client };
}

async function reachFor(config: DockerDriverConfig, docker: Docker, id: string): Promise<SandboxReach> {
  const { network } = config;
  if (network !== undefined) {
    await checkNetwork(docker, network);
    return { kind: 'network', network };
  }
  return { kind: 'socket', hostDir: await makeSocketDir(config.root, id) };
}

async function startContainer(
  tc: TestcontainersModule,
  spec: SandboxContainerSpec,
): Promise<Testcontainers.StartedTestContainer> {
  class SandboxContainer extends tc.GenericContainer {
    // Limits, confinement and mounts go in verbatim, just as the spec says.
    protected override async beforeContainerCreated(): Promise<void> {
      Object.assign(this.hostConfig, spec.hostConfig);
    }
  }
  return (
    new SandboxContainer(spec.image)
      .withName(spec.name)
      .withLabels(spec.labels)
      .withEnvironment(spec.env)
      .withCommand(spec.command)
      .withNetworkMode(spec.hostConfig.NetworkMode)
      // Never a pull (no registry is assumed), never Ryuk (its image would be pulled): sweepLeftovers() reaps by label.
      .withPullPolicy(tc.PullPolicy.neverPull())
      .withAutoCleanup(false)
      .withWaitStrategy(tc.Wait.forLogMessage(/database system is ready to accept connections/))
      .withStartupTimeout(120_000)
      .start()
  );
}

/** Removes the container and its socket directory; idempotent, and a failed attempt may be retried. */
function containerRemover(docker: Docker, spec: SandboxContainerSpec, reach: SandboxReach): () => Promise<void> {
  const socketParent = reach.kind === 'socket' ? path.dirname(reach.hostDir) : undefined;
  let destroying: Promise<void> | undefined;
  return (): Promise<void> => {
    destroying ??= (async () => {
      await docker
        .getContainer(spec.name)
        .remove({ force: true, v: true })
        .catch((error: unknown) => {
          if (!isMissing(error)) throw error;
        });
      if (socketParent) await rm(socketParent, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    })();
    destroying.catch(() => {
      destroying = undefined;
    });
    return destroying;
  };
}

async function createSandbox(config: DockerDriverConfig, createOptions: SandboxCreateOptions): Promise<Sandbox> {
  const { major: sourceMajor, label, signal } = createOptions;
  const { cpus, memoryMb, options } = config;
  const cancelled = () =>
    new HindsightError('tool_failed', `creation of the PostgreSQL ${sourceMajor} sandbox was cancelled`);
  if (signal?.aborted) throw cancelled();
  const { tc, client } = await runtime(config);
  const docker = client.container.dockerode;
  const major = await imageForSource(tc, client, sourceMajor);
  const id = randomBytes(6).toString('hex');
  const reach = await reachFor(config, docker, id);
  const spec = sandboxContainerSpec({
    major,
    cpus,
    memoryMb,
    label,
    reach,
    id,
    ...(options.namePrefix ? { namePrefix: options.namePrefix } : {}),
  });
  const destroy = containerRemover(docker, spec, reach);

  try {
    const started = await startContainer(tc, spec);
    if (reach.kind === 'socket' && !existsSync(path.join(reach.hostDir, `.s.PGSQL.${CONTAINER_PORT}`))) {
      // The server is up, but its socket is not where this worker looks: the engine sees another filesystem.
      throw new HindsightError(
        'bad_input',
        `the sandbox's server runs but its socket did not appear in ${reach.hostDir}: the Docker engine does not share this worker's filesystem (the worker runs in a container of its own, or the engine is remote). Attach the worker to an internal Docker network and name it in HINDSIGHT_SANDBOX_DOCKER_NETWORK`,
      );
    }
    const admin: PgTarget =
      reach.kind === 'network'
        ? {
            host: started.getIpAddress(reach.network),
            port: CONTAINER_PORT,
            database: 'postgres',
            user: spec.user,
            password: spec.password,
          }
        : { host: reach.hostDir, port: CONTAINER_PORT, database: 'postgres', user: spec.user, password: spec.password };
    await waitUntilAccepting(admin, { timeoutMs: 30_000, signal, onCancel: cancelled });
    if (signal?.aborted) throw cancelled();
    // The container is the confinement; the dump is loaded as a role without privileges (restore-role.ts) as everywhere.
    return {
      id: spec.id,
      driver: 'docker',
      major,
      admin,
      confinement: 'container',
      confinementDetail: confinementDetail(spec, cpus, memoryMb),
      destroy,
    };
  } catch (error) {
    const logs = await containerLogTail(docker, spec.name);
    await destroy().catch(() => undefined);
    if (signal?.aborted) throw cancelled();
    if (error instanceof HindsightError) throw error;
    throw new HindsightError(
      'tool_failed',
      `the PostgreSQL ${major} sandbox container (${spec.image}) did not start: ${errorMessage(error)}${logs ? `; its log ends: ${logs}` : ''}`,
      { cause: error },
    );
  }
}

/** Host-mode socket directories whose container is gone (a worker killed between the two removals). */
async function sweepSocketDirs(root: string, known: Set<string>): Promise<void> {
  const names = await readdir(root).catch(() => [] as string[]);
  for (const name of names) {
    const id = SOCKET_DIR.exec(name)?.[1];
    if (!id || known.has(id)) continue;
    const dir = path.join(root, name);
    const info = await stat(dir).catch(() => undefined);
    if (info && Date.now() - info.mtimeMs > UNOWNED_GRACE_MS) await rm(dir, { recursive: true, force: true });
  }
}

async function sweepLeftovers(config: DockerDriverConfig): Promise<{ removed: string[] }> {
  const { client } = await runtime(config);
  const docker = client.container.dockerode;
  const removed: string[] = [];
  const all = await docker.listContainers({ all: true });
  const running = all.filter((c) => c.State === 'running').map((c) => c.Id);
  const known = new Set<string>();
  for (const info of all) {
    const id = info.Labels?.[SANDBOX_LABEL];
    if (id === undefined) continue;
    if (!orphanedBy(info.Labels, running)) {
      known.add(id);
      continue;
    }
    await docker
      .getContainer(info.Id)
      .remove({ force: true, v: true })
      .catch((error: unknown) => {
        if (!isMissing(error)) throw error;
      });
    const socketDir = info.Labels[SOCKET_DIR_LABEL];
    if (socketDir && path.dirname(path.dirname(socketDir)) === config.root)
      await rm(path.dirname(socketDir), { recursive: true, force: true });
    removed.push(id);
  }
  await sweepSocketDirs(config.root, known);
  return { removed };
}

/** The PostgreSQL majors the engine holds a sandbox image of. */
async function availableMajors(config: DockerDriverConfig): Promise<number[]> {
  const { tc, client } = await runtime(config);
  const present: number[] = [];
  for (let major = OLDEST_IMAGE_MAJOR; major <= NEWEST_SUPPORTED_MAJOR; major += 1) {
    if (await client.image.exists(tc.ImageName.fromString(sandboxImage(major)))) present.push(major);
  }
  return present;
}

/** Which majors have an image, said once at the worker's start rather than at the first verification. */
async function probeConfinement(config: DockerDriverConfig): Promise<{ confinement: 'container'; detail: string }> {
  const { network } = config;
  const { client } = await runtime(config);
  const present = await availableMajors(config);
  const images =
    present.length > 0
      ? `images for PostgreSQL ${present.join(', ')}`
      : 'no sandbox image yet: build them with scripts/docker/sandbox-images.sh';
  let reach = network === undefined ? 'no network' : `only the internal network ${network}`;
  if (network !== undefined)
    await checkNetwork(client.container.dockerode, network).catch((error: unknown) => {
      reach += ` (unusable: ${errorMessage(error)})`;
    });
  return { confinement: 'container', detail: `containers without capabilities, read-only, ${reach}; ${images}` };
}

/**
 * Sandboxes as containers of `hindsight-sandbox-pg:<major>` (scripts/docker/sandbox-images.sh),
 * through testcontainers: the server runs as the image's unprivileged user with no capabilities,
 * no new privileges, a read-only root filesystem, CPU, memory and process limits, and either no
 * network at all (its unix socket appears in a directory of the worker's) or only the internal
 * network named by HINDSIGHT_SANDBOX_DOCKER_NETWORK. No registry is needed: nothing is pulled,
 * and Ryuk is not used; sweepLeftovers() removes what a killed worker left, by label.
 */
export function createDockerSandboxDriver(options: DockerSandboxOptions = {}): SandboxDriver {
  const config: DockerDriverConfig = {
    options,
    cpus: options.cpus ?? 1,
    memoryMb: options.memoryMb ?? 1024,
    load: options.load ?? importTestcontainers,
    root: path.resolve(options.root ?? defaultSandboxRoot()),
    network: options.network,
  };
  const { network } = config;
  if (network !== undefined && !dockerNetworkName.test(network))
    throw new HindsightError(
      'bad_input',
      `HINDSIGHT_SANDBOX_DOCKER_NETWORK: "${network}" is not a Docker network name`,
    );
  return {
    name: 'docker',
    create: (createOptions) => createSandbox(config, createOptions),
    sweepLeftovers: () => sweepLeftovers(config),
    probeConfinement: () => probeConfinement(config),
    availableMajors: () => availableMajors(config),
  };
}
