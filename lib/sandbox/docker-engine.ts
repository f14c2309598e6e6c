/** Small questions the docker sandbox driver asks the engine: is it gone, whose is it, what did it say. */
import type Dockerode from 'dockerode';
import { errorMessage } from '../errors.ts';
import { OWNER_LABELS } from './docker-spec.ts';
import { currentOwner, ownerIsAlive, type SandboxOwner } from './owner.ts';

export type Docker = Dockerode;

export const isMissing = (error: unknown): boolean => {
  const status = (error as { statusCode?: number }).statusCode;
  return status === 404 || /no such (container|network|volume)|not found/i.test(errorMessage(error));
};

export function ownerFromLabels(labels: Record<string, string> | undefined): SandboxOwner | undefined {
  const pid = Number(labels?.[OWNER_LABELS.pid]);
  const host = labels?.[OWNER_LABELS.host];
  if (!host || !Number.isInteger(pid) || pid <= 0) return undefined;
  return { host, pid, start: labels?.[OWNER_LABELS.start] || null };
}

/** A container's default hostname is the first 12 hex digits of its id. */
const CONTAINER_HOSTNAME = /^[0-9a-f]{12}$/;

/**
 * Whether the worker that made a sandbox is gone. One on this host is judged by its pid and start
 * time. A worker running in a container on the same engine (hostname = its container's short id)
 * is gone once no running container has that id; any other host's worker is presumed alive.
 */
export function orphanedBy(labels: Record<string, string> | undefined, runningContainerIds: string[]): boolean {
  const owner = ownerFromLabels(labels);
  if (owner === undefined) return false;
  if (owner.host === currentOwner().host) return !ownerIsAlive(owner);
  if (!CONTAINER_HOSTNAME.test(owner.host)) return false;
  return !runningContainerIds.some((id) => id.startsWith(owner.host));
}

/** Docker multiplexes a container's stdout and stderr in frames: an 8-byte header (stream, size) before each. */
function demultiplex(buffer: Buffer): string {
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset + 8 <= buffer.length) {
    const size = buffer.readUInt32BE(offset + 4);
    parts.push(buffer.subarray(offset + 8, offset + 8 + size));
    offset += 8 + size;
  }
  return Buffer.concat(parts).toString('utf8');
}

/** The last lines a container printed (initdb's or the server's complaint), or '' when there is none to read. */
export async function containerLogTail(docker: Docker, name: string, lines = 15): Promise<string> {
  try {
    const raw = await docker.getContainer(name).logs({ stdout: true, stderr: true, tail: lines, follow: false });
    return demultiplex(Buffer.isBuffer(raw) ? raw : Buffer.from(String(raw)))
      .trim()
      .split('\n')
      .slice(-lines)
      .join(' | ');
  } catch {
    return '';
  }
}
