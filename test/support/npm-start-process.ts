/**
 * `npm start`'s supervisor (scripts/start.ts) run as a reader runs it, in a process group of its
 * own, on a data directory and ports given by its environment; what it prints is kept, colours
 * removed, for the test to wait for lines and read them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { waitFor } from './wait.ts';

const TERMINAL_ESCAPES = new RegExp(`${String.fromCharCode(27)}\\[[0-9;?]*[A-Za-z]`, 'g');

export class StartProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private text = '';

  constructor(env: Record<string, string>) {
    this.child = spawn(process.execPath, [path.resolve('scripts/start.ts')], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    for (const stream of [this.child.stdout, this.child.stderr])
      stream?.on('data', (chunk: Buffer) => (this.text += chunk.toString().replace(TERMINAL_ESCAPES, '')));
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  get pid(): number {
    return this.child.pid!;
  }

  get output(): string {
    return this.text;
  }

  /** Lines printed since `from` (an offset into the output) that match `pattern`. */
  linesMatching(pattern: RegExp, from = 0): string[] {
    return this.text
      .slice(from)
      .split('\n')
      .filter((line) => pattern.test(line));
  }

  /** The first line from `from` on that matches `pattern`, once printed; fails (with the output) after `timeoutMs`. */
  async line(pattern: RegExp, timeoutMs: number, from = 0): Promise<string> {
    try {
      return await waitFor(`a line matching ${pattern}`, async () => this.linesMatching(pattern, from)[0], timeoutMs);
    } catch (error) {
      throw new Error(`${(error as Error).message}; npm start printed:\n${this.text.slice(-6000)}`, { cause: error });
    }
  }

  /** Ctrl-C, as a terminal sends it (to its process group). */
  interrupt(): void {
    process.kill(-this.pid, 'SIGINT');
  }

  /** Whatever is left of its process group, killed (for a test's cleanup). */
  killGroup(): void {
    try {
      process.kill(-this.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** Runs a start to its end: what it printed and how it exited. */
export async function runToEnd(
  env: Record<string, string>,
  timeoutMs: number,
): Promise<{ code: number | null; output: string }> {
  const start = new StartProcess(env);
  const timer = setTimeout(() => start.killGroup(), timeoutMs);
  const { code } = await start.exited;
  clearTimeout(timer);
  return { code, output: start.output };
}
