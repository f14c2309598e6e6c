/**
 * Runs a guide's blocks one after the other as a reader would in one terminal: each block is a bash
 * script that stops at its first failing command (`set -eo pipefail`), and the shell variables it
 * sets and the directory it changes to carry over to the next block. A block that keeps running
 * (`npm start`) runs as in a terminal of its own: it starts from that state, leaves none, and stops
 * on Ctrl-C (SIGINT to its process group).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { GuideBlock } from './guide-markdown.ts';

export interface BlockResult {
  /** The exit code of the block: that of its first failing command, or 0. */
  code: number;
  /** stdout and stderr together, as a terminal shows them. */
  output: string;
}

/** Colours and other terminal escapes: a reader's terminal shows the text without them. */
const TERMINAL_ESCAPES = new RegExp(`${String.fromCharCode(27)}\\[[0-9;?]*[A-Za-z]`, 'g');
const plain = (text: string) => text.replace(TERMINAL_ESCAPES, '');

/**
 * What runs around each block. The variables a block sets are saved on exit (all but those the
 * block started with, which the environment gives again) and read back by the next block; a block
 * that keeps running reads them and saves nothing (its exit comes after later blocks).
 */
function script(block: GuideBlock, stateDir: string): string {
  const state = path.join(stateDir, 'variables.sh');
  const cwd = path.join(stateDir, 'cwd');
  const enter = ['exec 2>&1', `cd "$(cat '${cwd}')"`, `source '${state}' 2>/dev/null || true`];
  if (block.keepsRunning) return [...enter, 'set -eo pipefail', block.code, ''].join('\n');
  return [
    ...enter.slice(0, 1),
    '__guide_start="$(compgen -v)"',
    ...enter.slice(1),
    '__guide_save() {',
    '  __guide_code=$?',
    '  declare -p $(LC_ALL=C comm -13 <(LC_ALL=C sort <<<"$__guide_start") <(compgen -v | LC_ALL=C sort) |',
    `    grep -v -e '^__guide' -e '^BASH' -e '^FUNCNAME$' -e '^PIPESTATUS$' -e '^_$') > '${state}' 2>/dev/null`,
    `  pwd > '${cwd}'`,
    '  exit $__guide_code',
    '}',
    'trap __guide_save EXIT',
    'set -eo pipefail',
    block.code,
    '',
  ].join('\n');
}

export interface ShellOptions {
  timeoutMs?: number;
  /** Where the first block starts (default: `dir`), e.g. the checkout a guide's `npm start` runs in. */
  cwd?: string;
}

export class GuideShell {
  readonly dir: string;
  readonly env: Record<string, string>;
  readonly timeoutMs: number;
  readonly cwd: string;
  private readonly stateDir: string;
  private running: { block: GuideBlock; child: ChildProcess; exited: Promise<void> } | undefined;

  /** A shell keeping its state in `dir`, with exactly `env` as its environment. */
  constructor(dir: string, env: Record<string, string>, options: ShellOptions = {}) {
    this.dir = dir;
    this.env = env;
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.cwd = options.cwd ?? dir;
    this.stateDir = path.join(dir, '.guide-shell');
  }

  async start(): Promise<void> {
    await mkdir(this.stateDir, { recursive: true });
    await writeFile(path.join(this.stateDir, 'cwd'), `${this.cwd}\n`);
    await writeFile(path.join(this.stateDir, 'variables.sh'), '');
  }

  /**
   * Starts a block that keeps running, after Ctrl-C to the one running before it (a restart), and
   * resolves once what it printed satisfies `ready` (code 0), or when it ends before that (its code).
   */
  async startRunning(block: GuideBlock, ready: (output: string) => boolean): Promise<BlockResult> {
    await this.interrupt();
    const child = spawn('bash', ['-c', script(block, this.stateDir)], {
      cwd: this.cwd,
      env: this.env,
      stdio: ['ignore', 'pipe', 'inherit'],
      // Its own process group, as a terminal's job: Ctrl-C reaches every process of it, and only those.
      detached: true,
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    this.running = { block, child, exited };
    let output = '';
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`guide line ${block.line}: not ready after ${this.timeoutMs} ms:\n${output}`));
      }, this.timeoutMs);
      const settle = (result: BlockResult) => {
        clearTimeout(timer);
        resolve(result);
      };
      child.stdout.on('data', (chunk: Buffer) => {
        output += plain(chunk.toString());
        if (ready(output)) settle({ code: 0, output });
      });
      child.once('error', reject);
      child.once('exit', (code, signal) => settle({ code: code ?? (signal ? 128 : 1), output }));
    });
  }

  /**
   * Ctrl-C to the block that keeps running, then waits until every process of its group has ended
   * (the shell may return before the program it ran has stopped its own children).
   */
  async interrupt(graceMs = 60_000): Promise<void> {
    const running = this.running;
    if (!running) return;
    this.running = undefined;
    const group = running.child.pid!;
    const alive = () => {
      try {
        process.kill(-group, 0);
        return true;
      } catch {
        return false;
      }
    };
    if (alive()) process.kill(-group, 'SIGINT');
    const deadline = Date.now() + graceMs;
    while (alive() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
    if (alive()) process.kill(-group, 'SIGKILL');
    await running.exited;
  }

  /** Runs one block; never rejects for a failing command (that is its exit code), only for a hung one. */
  run(block: GuideBlock): Promise<BlockResult> {
    return new Promise((resolve, reject) => {
      const child = spawn('bash', ['-c', script(block, this.stateDir)], {
        cwd: this.dir,
        env: this.env,
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += plain(chunk.toString())));
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`guide line ${block.line}: still running after ${this.timeoutMs} ms:\n${output}`));
      }, this.timeoutMs);
      child.once('error', reject);
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        resolve({ code: code ?? (signal ? 128 : 1), output });
      });
    });
  }
}
