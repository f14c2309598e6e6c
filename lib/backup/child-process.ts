import type { ChildProcess } from 'node:child_process';

/** Keeps the last `limit` bytes of a child's stderr: enough to explain a failure, bounded in memory. */
export function stderrTail(child: ChildProcess, limit = 8192): () => string {
  let tail = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (text: string) => {
    tail = (tail + text).slice(-limit);
  });
  return () => tail.trim();
}

export function waitForExit(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve({ code: child.exitCode, signal: child.signalCode });
      return;
    }
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
}
