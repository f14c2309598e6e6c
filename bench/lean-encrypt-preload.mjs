/**
 * A worker preload that swaps in LeanEncryptStream's methods, to measure the change in the real
 * worker: BENCH_WORKER_NODE_OPTIONS="--import ./bench/lean-encrypt-preload.mjs" npm run bench
 * Plain JavaScript, because Temporal's workflow threads inherit the flag but not tsx's loader.
 */
import { isMainThread } from 'node:worker_threads';

if (isMainThread) {
  const { patchEncryptStream } = await import('./lean-encrypt.ts');
  patchEncryptStream();
}
