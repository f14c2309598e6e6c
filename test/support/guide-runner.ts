/**
 * Runs a guide's blocks one after the other as a reader would in one terminal: each block is a bash
 * script that stops at its first failing command (`set -eo pipefail`), and the shell variables it
 * sets and the directory it changes to carry over to the next block.
 */
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { GuideBlock } from './guide-markdown.ts';

export interface BlockResult {
  /** The exit code of the block: that of its first failing command, or 0. */
  code: number;
  /** stdout and stderr together, as a terminal shows them. */
  output: string;
}

/**
 * What runs around each block. The variables a block sets are saved on exit (all but those the
 * block started with, which the environment gives again) and read back by the next block.
 */
function script(block: GuideBlock, stateDir: string): string {
  const state = path.join(stateDir, 'variables.sh');
  const cwd = path.join(stateDir, 'cwd');
  return [
    'exec 2>&1',
    '__guide_start="$(compgen -v)"',
    `cd "$(cat '${cwd}')"`,
    `source '${state}' 2>/dev/null || true`,
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

export class GuideShell {
  readonly dir: string;
  readonly env: Record<string, string>;
  readonly timeoutMs: number;
  private readonly stateDir: string;

  /** A shell whose first block starts in `dir`, with exactly `env` as its environment. */
  constructor(dir: string, env: Record<string, string>, options: { timeoutMs?: number } = {}) {
    this.dir = dir;
    this.env = env;
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.stateDir = path.join(dir, '.guide-shell');
  }

  async start(): Promise<void> {
    await mkdir(this.stateDir, { recursive: true });
    await writeFile(path.join(this.stateDir, 'cwd'), `${this.dir}\n`);
    await writeFile(path.join(this.stateDir, 'variables.sh'), '');
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
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
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
