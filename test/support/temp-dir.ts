/** A private temporary directory for the tests of one describe block, made before them and removed after. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';

/** Call inside a describe block; the returned function gives the directory once the tests run. */
export function useTempDir(prefix: string): () => string {
  let dir: string | undefined;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), prefix));
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  return () => {
    if (!dir) throw new Error(`the temporary directory ${prefix}… is made before the tests run`);
    return dir;
  };
}
