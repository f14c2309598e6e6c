import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';

// Who owns a sandbox. A pid alone is not enough: after a restart (a container's pid 1, a worker
// under systemd) the same pid comes back, so the owner is recorded with the process's start time.

export interface SandboxOwner {
  host: string;
  pid: number;
  /** Identifies one incarnation of `pid`: boot id and start time on Linux. */
  start: string | null;
}

export const hasProc = existsSync('/proc/self/stat');

function procStat(pid: number): { state: string; startTicks: string } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses; the fields after it do not.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0] ?? '', startTicks: fields[19] ?? '' };
  } catch {
    return undefined;
  }
}

let bootId: string | undefined;
function linuxStartToken(pid: number): string | null {
  const info = procStat(pid);
  if (!info) return null;
  bootId ??= (() => {
    try {
      return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    } catch {
      return '';
    }
  })();
  return `${bootId}/${info.startTicks}`;
}

let ownStart: string | null | undefined;
export function currentOwner(): SandboxOwner {
  ownStart ??= hasProc ? linuxStartToken(process.pid) : `t${Math.round(performance.timeOrigin)}`;
  return { host: os.hostname(), pid: process.pid, start: ownStart };
}

/** True for a running process; a zombie (killed, not yet reaped) counts as gone. */
export function processAlive(pid: number): boolean {
  if (hasProc) {
    const info = procStat(pid);
    return info !== undefined && info.state !== 'Z' && info.state !== 'X';
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether the process that made a sandbox still runs. Another host's processes cannot be judged: they count as alive. */
export function ownerIsAlive(owner: SandboxOwner): boolean {
  const self = currentOwner();
  if (owner.host !== self.host) return true;
  if (owner.pid === self.pid) return owner.start === self.start;
  if (!processAlive(owner.pid)) return false;
  const now = hasProc ? linuxStartToken(owner.pid) : null;
  return owner.start === null || now === null || owner.start === now;
}
