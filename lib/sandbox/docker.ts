import { randomBytes } from 'node:crypto';
import type * as Testcontainers from 'testcontainers';
import { HindsightError, errorMessage } from '../errors.ts';
import type { PgTarget } from '../pg/connection.ts';
import type { Sandbox, SandboxCreateOptions, SandboxDriver } from './contract.ts';
import { currentOwner, ownerIsAlive, type SandboxOwner } from './owner.ts';
import { waitUntilAccepting } from './server-process.ts';

// The container path below has not been run on the machine where it was written (no Docker
// engine there): only the spec and the choice of driver are covered by tests.

export const SANDBOX_LABEL = 'hindsight.sandbox';
const OWNER_LABELS = { host: 'hindsight.owner.host', pid: 'hindsight.owner.pid', start: 'hindsight.owner.start' } as const;

/** What the official image's entrypoint needs as root: fix PGDATA's owner and mode, then drop to `postgres` with gosu. */
export const SANDBOX_CAPABILITIES = ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'SETGID', 'SETUID'] as const;

const CONTAINER_PORT = 5432;

export interface SandboxContainerSpecOptions {
  major: number;
  /** CPUs the container may use (fractions allowed). */
  cpus: number;
  /** Memory limit, swap included. */
  memoryMb: number;
  label: string;
  /** Fixed in tests; random otherwise. */
  id?: string;
  password?: string;
  owner?: SandboxOwner;
}

export interface SandboxContainerSpec {
  id: string;
  image: string;
  name: string;
  networkName: string;
  containerPort: number;
  user: string;
  password: string;
  env: Record<string, string>;
  command: string[];
  labels: Record<string, string>;
  hostConfig: {
    NanoCpus: number;
    Memory: number;
    MemorySwap: number;
    PidsLimit: number;
    ShmSize: number;
    CapDrop: string[];
    CapAdd: string[];
    SecurityOpt: string[];
  };
}

/** Everything a sandbox container is made from, without touching Docker. */
export function sandboxContainerSpec(options: SandboxContainerSpecOptions): SandboxContainerSpec {
  const { major, cpus, memoryMb, label } = options;
  if (!Number.isInteger(major) || major < 9) throw new HindsightError('bad_input', `"${major}" is not a PostgreSQL major version`);
  if (!(cpus > 0)) throw new HindsightError('bad_input', `a sandbox needs a positive CPU limit, not ${cpus}`);
  if (!Number.isInteger(memoryMb) || memoryMb < 256) throw new HindsightError('bad_input', `a sandbox needs at least 256 MB of memory, not ${memoryMb}`);
  const id = options.id ?? randomBytes(6).toString('hex');
  const password = options.password ?? randomBytes(24).toString('base64url');
  const owner = options.owner ?? currentOwner();
  const memory = memoryMb * 1024 * 1024;
  return {
    id,
    image: `postgres:${major}`,
    name: `hindsight-sbx-${id}`,
    // A network of its own: a restored database reaches no other container.
    networkName: `hindsight-sbx-${id}`,
    containerPort: CONTAINER_PORT,
    user: 'postgres',
    password,
    env: {
      POSTGRES_USER: 'postgres',
      POSTGRES_DB: 'postgres',
      POSTGRES_PASSWORD: password,
      POSTGRES_HOST_AUTH_METHOD: 'scram-sha-256',
      // Before PostgreSQL 14 initdb stores the first password as md5, which scram-sha-256 auth rejects.
      // Local connections too: no `trust` anywhere, even inside the container.
      POSTGRES_INITDB_ARGS: '--auth-host=scram-sha-256 --auth-local=scram-sha-256',
    },
    command: ['postgres', '-c', 'fsync=off', '-c', 'full_page_writes=off', '-c', 'synchronous_commit=off'],
    labels: {
      [SANDBOX_LABEL]: id,
      'hindsight.sandbox.label': label,
      'hindsight.sandbox.major': String(major),
      [OWNER_LABELS.host]: owner.host,
      [OWNER_LABELS.pid]: String(owner.pid),
      [OWNER_LABELS.start]: owner.start ?? '',
    },
    hostConfig: {
      NanoCpus: Math.round(cpus * 1e9),
      Memory: memory,
      MemorySwap: memory,
      PidsLimit: 512,
      ShmSize: 256 * 1024 * 1024,
      CapDrop: ['ALL'],
      CapAdd: [...SANDBOX_CAPABILITIES],
      SecurityOpt: ['no-new-privileges:true'],
    },
  };
}

function ownerFromLabels(labels: Record<string, string> | undefined): SandboxOwner | undefined {
  const pid = Number(labels?.[OWNER_LABELS.pid]);
  const host = labels?.[OWNER_LABELS.host];
  if (!host || !Number.isInteger(pid) || pid <= 0) return undefined;
  return { host, pid, start: labels?.[OWNER_LABELS.start] || null };
}

type TestcontainersModule = typeof Testcontainers;

/** Loaded only when a docker sandbox is used, so that the process driver never pulls it in. */
const importTestcontainers = (): Promise<TestcontainersModule> => import('testcontainers');

export function testcontainersLoadError(error: unknown): Error {
  const code = (error as { code?: string }).code;
  if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
    return new HindsightError('bad_input', `install testcontainers to use the docker sandbox driver (npm install testcontainers), or use the process driver (${errorMessage(error)})`, { cause: error });
  }
  return new HindsightError('tool_failed', `the testcontainers package failed to load: ${errorMessage(error)}`, { cause: error });
}

const isMissing = (error: unknown): boolean => {
  const status = (error as { statusCode?: number }).statusCode;
  return status === 404 || /no such (container|network)|not found/i.test(errorMessage(error));
};

export interface DockerSandboxOptions {
  /** Per-sandbox limits. */
  cpus?: number;
  memoryMb?: number;
  /** A unix socket of the Docker engine other than DOCKER_HOST or /var/run/docker.sock. */
  dockerSocket?: string;
  /** Replaces the dynamic import (tests). */
  load?: () => Promise<TestcontainersModule>;
}

/**
 * Sandboxes as containers of the official `postgres:<major>` image, through testcontainers: no
 * capability beyond what the entrypoint needs, no privilege escalation, CPU and memory capped,
 * a network of their own. The published port is protected by a random scram-sha-256 password.
 */
export function createDockerSandboxDriver(options: DockerSandboxOptions = {}): SandboxDriver {
  const cpus = options.cpus ?? 1;
  const memoryMb = options.memoryMb ?? 1024;
  const load = options.load ?? importTestcontainers;

  async function runtime(): Promise<{ tc: TestcontainersModule; client: Testcontainers.ContainerRuntimeClient }> {
    // testcontainers finds the engine through DOCKER_HOST (or its own properties file).
    if (options.dockerSocket && !process.env.DOCKER_HOST) process.env.DOCKER_HOST = `unix://${options.dockerSocket}`;
    const tc = await load().catch((error: unknown) => {
      throw testcontainersLoadError(error);
    });
    try {
      return { tc, client: await tc.getContainerRuntimeClient() };
    } catch (error) {
      throw new HindsightError('unreachable', `no Docker engine answers for the docker sandbox driver: ${errorMessage(error)}`, { cause: error });
    }
  }

  async function create({ major, label, signal }: SandboxCreateOptions): Promise<Sandbox> {
    const cancelled = () => new HindsightError('tool_failed', `creation of the PostgreSQL ${major} sandbox was cancelled`);
    if (signal?.aborted) throw cancelled();
    const spec = sandboxContainerSpec({ major, cpus, memoryMb, label });
    const { tc, client } = await runtime();

    const network = await client.network.create({ Name: spec.networkName, Driver: 'bridge', CheckDuplicate: true, Labels: spec.labels }).catch((error: unknown) => {
      throw new HindsightError('tool_failed', `could not create the sandbox network ${spec.networkName}: ${errorMessage(error)}`, { cause: error });
    });
    let started: Testcontainers.StartedTestContainer | undefined;
    let destroying: Promise<void> | undefined;
    const destroy = (): Promise<void> => {
      destroying ??= (async () => {
        if (started) await started.stop({ remove: true, removeVolumes: true, timeout: 0 }).catch((error: unknown) => { if (!isMissing(error)) throw error; });
        await client.network.remove(network).catch((error: unknown) => { if (!isMissing(error)) throw error; });
      })();
      destroying.catch(() => { destroying = undefined; });
      return destroying;
    };

    try {
      class SandboxContainer extends tc.GenericContainer {
        // Limits, capabilities and security options go in verbatim, just as the spec says.
        protected override async beforeContainerCreated(): Promise<void> {
          Object.assign(this.hostConfig, spec.hostConfig);
        }
      }
      started = await new SandboxContainer(spec.image)
        .withName(spec.name)
        .withLabels(spec.labels)
        .withEnvironment(spec.env)
        .withCommand(spec.command)
        .withNetworkMode(spec.networkName)
        .withExposedPorts(spec.containerPort)
        // A fresh data directory starts the server twice: once for the entrypoint's setup, then for real.
        .withWaitStrategy(tc.Wait.forAll([tc.Wait.forLogMessage(/database system is ready to accept connections/, 2), tc.Wait.forListeningPorts()]))
        .withStartupTimeout(120_000)
        .start();
      const admin: PgTarget = {
        host: started.getHost(),
        port: started.getMappedPort(spec.containerPort),
        database: 'postgres',
        user: spec.user,
        password: spec.password,
      };
      await waitUntilAccepting(admin, { timeoutMs: 30_000, signal, onCancel: cancelled });
      // The container is the confinement; the dump is loaded as a role without privileges (restore-role.ts) as everywhere.
      return { id: spec.id, driver: 'docker', major, admin, confinement: 'container', confinementDetail: `container ${spec.name}: no capabilities beyond the entrypoint's, own network, scram-sha-256 password`, destroy };
    } catch (error) {
      await destroy().catch(() => undefined);
      if (signal?.aborted) throw cancelled();
      if (error instanceof HindsightError) throw error;
      throw new HindsightError('tool_failed', `the PostgreSQL ${major} sandbox container (${spec.image}) did not start: ${errorMessage(error)}`, { cause: error });
    }
  }

  async function sweepLeftovers(): Promise<{ removed: string[] }> {
    const { client } = await runtime();
    const docker = client.container.dockerode;
    const removed: string[] = [];
    const orphaned = (labels: Record<string, string> | undefined) => {
      const owner = ownerFromLabels(labels);
      return owner !== undefined && !ownerIsAlive(owner);
    };
    for (const info of await docker.listContainers({ all: true, filters: { label: [SANDBOX_LABEL] } })) {
      if (!orphaned(info.Labels)) continue;
      await docker.getContainer(info.Id).remove({ force: true, v: true }).catch((error: unknown) => { if (!isMissing(error)) throw error; });
      removed.push(info.Labels[SANDBOX_LABEL] ?? info.Id);
    }
    for (const info of await docker.listNetworks({ filters: { label: [SANDBOX_LABEL] } })) {
      if (!orphaned(info.Labels)) continue;
      await docker.getNetwork(info.Id).remove().catch((error: unknown) => { if (!isMissing(error)) throw error; });
    }
    return { removed };
  }

  return { name: 'docker', create, sweepLeftovers };
}
