import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';

/** What a hook run keeps of its output: the last 64 KiB, enough to explain a failure. */
export const OUTPUT_TAIL_BYTES = 64 * 1024;
/** Lines longer than this are split: a script printing a binary blob must not hold memory. */
const MAX_LINE_BYTES = 8 * 1024;
/** After TERM at the timeout, the group has this long to exit before KILL. */
export const DEFAULT_KILL_GRACE_MS = 3000;

export interface ScriptRunOptions {
  script: string;
  env: Record<string, string>;
  cwd: string;
  timeoutSeconds: number;
  /** Each line of stdout or stderr as it arrives (without its newline). */
  onLine?: (stream: 'stdout' | 'stderr', line: string) => void;
  /** Aborting kills the script's process group, like a timeout. */
  signal?: AbortSignal | undefined;
  killGraceMs?: number;
}

export interface ScriptRunResult {
  exitCode: number | null;
  /** The signal that ended the shell, when one did. */
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  aborted: boolean;
  durationMs: number;
  /** The last 64 KiB of stdout and stderr, interleaved as they arrived. */
  outputTail: string;
  outputTruncated: boolean;
  /** The process group id (the shell's pid): gone once the run returns. */
  pid: number | undefined;
  ok: boolean;
}

/** Keeps the last `limit` bytes of what it is given, and whether anything was dropped. */
class ByteTail {
  private chunks: Buffer[] = [];
  private size = 0;
  truncated = false;
  private readonly limit: number;
  constructor(limit: number) {
    this.limit = limit;
  }
  push(text: string): void {
    const buf = Buffer.from(text, 'utf8');
    this.chunks.push(buf);
    this.size += buf.length;
    while (this.size > this.limit && this.chunks.length > 0) {
      const first = this.chunks[0]!;
      const excess = this.size - this.limit;
      this.truncated = true;
      if (first.length <= excess) {
        this.chunks.shift();
        this.size -= first.length;
      } else {
        this.chunks[0] = first.subarray(excess);
        this.size -= excess;
      }
    }
  }
  toString(): string {
    // A cut in the middle of a multi-byte character decodes as U+FFFD; drop it.
    return Buffer.concat(this.chunks)
      .toString('utf8')
      .replace(/^\uFFFD+/, '');
  }
}

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is already gone.
  }
}

/**
 * Whether a process of the group still runs. A zombie does not count: an ended process whose
 * parent died waits for init to reap it, which in a container may take seconds.
 */
export function groupAlive(pgid: number | undefined): boolean {
  if (pgid === undefined) return false;
  try {
    process.kill(-pgid, 0);
  } catch {
    return false;
  }
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return true;
  }
  for (const entry of entries) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid pgrp …; comm may hold spaces and parentheses, so parse after the last ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid && fields[0] !== 'Z') return true;
    } catch {
      // The process ended while we looked.
    }
  }
  return false;
}

const BACKSTOP = ['/usr/bin/timeout', '/bin/timeout'].find((f) => existsSync(f));

/** Waits until no process of the group is left: SIGTERM, then SIGKILL after the grace period. */
async function ensureGroupGone(pid: number | undefined, graceMs: number): Promise<void> {
  if (!groupAlive(pid)) return;
  killGroup(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (groupAlive(pid)) {
    if (Date.now() >= deadline) killGroup(pid, 'SIGKILL');
    if (Date.now() >= deadline + 5000) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * The command line: `/bin/sh -c <script>`, under GNU timeout when the system has it. That
 * backstop does not depend on this process: if the worker dies, the orphaned group is still killed
 * a little after its own timeout.
 */
function scriptCommand(script: string, timeoutSeconds: number, graceMs: number): [string, string[]] {
  const backstop = BACKSTOP && [
    BACKSTOP,
    '--kill-after',
    `${Math.ceil(graceMs / 1000)}s`,
    `${timeoutSeconds + Math.ceil(graceMs / 1000) + 2}s`,
  ];
  const [file, ...args] = backstop ? [...backstop, '/bin/sh', '-c', script] : ['/bin/sh', '-c', script];
  return [file!, args];
}

/** Splits one output stream into lines for `onLine`, keeping every byte in the shared tail. */
function lineReader(stream: 'stdout' | 'stderr', tail: ByteTail, onLine: ScriptRunOptions['onLine']) {
  const decoder = new StringDecoder('utf8');
  let pending = '';
  const emit = (line: string) => onLine?.(stream, line);
  return {
    data(chunk: Buffer) {
      const text = decoder.write(chunk);
      tail.push(text);
      pending += text;
      let newline: number;
      while ((newline = pending.indexOf('\n')) >= 0) {
        emit(pending.slice(0, newline).replace(/\r$/, ''));
        pending = pending.slice(newline + 1);
      }
      while (pending.length > MAX_LINE_BYTES) {
        emit(pending.slice(0, MAX_LINE_BYTES));
        pending = pending.slice(MAX_LINE_BYTES);
      }
    },
    end() {
      const rest = pending + decoder.end();
      pending = '';
      if (rest.length > 0) emit(rest);
    },
  };
}

/** Ends the script's process group at its timeout or on abort: SIGTERM, then SIGKILL after the grace period. */
class GroupLimits {
  timedOut = false;
  aborted = false;
  private readonly pid: number | undefined;
  private readonly graceMs: number;
  private readonly signal: AbortSignal | undefined;
  private readonly timer: NodeJS.Timeout;
  private killTimer: NodeJS.Timeout | undefined;
  private readonly onAbort = () => {
    this.aborted = true;
    this.terminate();
  };

  constructor(pid: number | undefined, options: ScriptRunOptions, graceMs: number, tail: ByteTail) {
    this.pid = pid;
    this.graceMs = graceMs;
    this.signal = options.signal;
    this.timer = setTimeout(() => {
      this.timedOut = true;
      tail.push(
        `\n[hindsight] the script ran longer than ${options.timeoutSeconds} s: its process group was sent SIGTERM${graceMs > 0 ? `, then SIGKILL after ${graceMs / 1000} s` : ''}\n`,
      );
      this.terminate();
    }, options.timeoutSeconds * 1000);
    if (this.signal?.aborted) this.onAbort();
    else this.signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  terminate(): void {
    killGroup(this.pid, 'SIGTERM');
    this.killTimer ??= setTimeout(() => killGroup(this.pid, 'SIGKILL'), this.graceMs);
  }

  dispose(): void {
    clearTimeout(this.timer);
    if (this.killTimer) clearTimeout(this.killTimer);
    this.signal?.removeEventListener('abort', this.onAbort);
  }
}

/**
 * Runs a hook script with `/bin/sh -c` in a process group of its own (under GNU `timeout` as a
 * backstop when the system has it), with exactly the environment
 * given (nothing inherited), streaming its output line by line. At the timeout (or on abort) the
 * whole group gets SIGTERM, then SIGKILL after a grace period, so that a `sleep` or a pipeline the
 * script started cannot outlive it. Processes the script leaves behind in its group when it exits
 * are ended the same way: a hook that must start a long-running service should use its service
 * manager (or `setsid`), not a background job.
 */
export function runHookScript(options: ScriptRunOptions): Promise<ScriptRunResult> {
  const started = Date.now();
  const grace = options.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
  const tail = new ByteTail(OUTPUT_TAIL_BYTES);
  return new Promise((resolve) => {
    const [file, args] = scriptCommand(options.script, options.timeoutSeconds, grace);
    const child = spawn(file, args, {
      cwd: options.cwd,
      env: options.env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const pid = child.pid;
    const limits = new GroupLimits(pid, options, grace, tail);
    const out = lineReader('stdout', tail, options.onLine);
    const err = lineReader('stderr', tail, options.onLine);
    child.stdout.on('data', out.data);
    child.stderr.on('data', err.data);

    let finished = false;
    let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let closeGuard: NodeJS.Timeout | undefined;
    const finish = (spawnError?: Error) => {
      if (finished) return;
      finished = true;
      limits.dispose();
      if (closeGuard) clearTimeout(closeGuard);
      out.end();
      err.end();
      if (spawnError) tail.push(`[hindsight] the script could not be started: ${spawnError.message}\n`);
      void ensureGroupGone(pid, grace).then(() =>
        resolve({
          exitCode: exited?.code ?? null,
          signal: exited?.signal ?? null,
          timedOut: limits.timedOut,
          aborted: limits.aborted,
          pid,
          durationMs: Date.now() - started,
          outputTail: tail.toString(),
          outputTruncated: tail.truncated,
          ok: !spawnError && !limits.timedOut && !limits.aborted && exited?.code === 0,
        }),
      );
    };
    child.once('error', (error) => finish(error));
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      // Whatever the script left running in its group goes with it (TERM, then KILL), so that
      // the pipes close and nothing outlives the hook.
      if (groupAlive(pid)) limits.terminate();
      // A process that left the group (setsid) but kept our pipes open must not hold the run.
      closeGuard = setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
        finish();
      }, grace + 2000);
    });
    child.once('close', () => finish());
  });
}
