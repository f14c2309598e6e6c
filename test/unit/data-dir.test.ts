/**
 * The default restore root, data/restores, is reachable by the sandbox user that runs a restored
 * server, while nothing else of the data directory is: not the secret key, not the Temporal
 * database, not the local storage, not even the list of its entries. As root (a restore hands its
 * directory to that user only then); the real functions a restore runs, the real user.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { loadConfig } from '../../lib/config.ts';
import { loadOrCreateSecretKey } from '../../lib/crypto/secret-key.ts';
import { prepareDataDirFor } from '../../lib/data-dir.ts';
import { prepareDataDirectory } from '../../lib/pitr/extract.ts';
import { asServerUser, runningAsRoot, serverEnv, serverOsUser } from '../../lib/pitr/os-user.ts';
import { confineRestoreDirectory } from '../../lib/pitr/restore-root.ts';

const run = promisify(execFile);

/** Whether the sandbox user can run `command args` (exit 0). */
const sandboxUserCan = (command: string, args: string[]) =>
  run(...asServerUser(command, args), { env: serverEnv() }).then(
    () => true,
    () => false,
  );

const mode = async (file: string) => (await stat(file)).mode & 0o777;

describe('the data directory: the default restore root is reachable, nothing else is', () => {
  let dir: string;
  let dataDir: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'hindsight-data-dir-'));
    await chmod(dir, 0o711); // as the directory an installation lives in: traversable
    dataDir = path.join(dir, 'data');
    // As a worker started on its own makes it: the key first, which creates the directory 0700.
    await loadOrCreateSecretKey(path.join(dataDir, 'secret.key'));
    await writeFile(path.join(dataDir, 'temporal.db'), 'histories', { mode: 0o644 });
    await mkdir(path.join(dataDir, 'storages', 'shop'), { recursive: true, mode: 0o755 });
    await writeFile(path.join(dataDir, 'storages', 'shop', 'b1.dump.hsb'), 'sealed', { mode: 0o644 });
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('restores into data/restores/<dir> as the sandbox user; the key, the database and the listing stay closed', async (t) => {
    if (!runningAsRoot())
      return t.skip(`not running as root: a restore hands its directory to ${serverOsUser()} only as root`);
    const { restoreRoots } = loadConfig({ HINDSIGHT_DATA_DIR: dataDir });
    const target = await confineRestoreDirectory(path.join(dataDir, 'restores', 'shop-before'), restoreRoots);
    await prepareDataDirFor(target, dataDir);
    await prepareDataDirectory(target, 'restore-1', async () => undefined);
    assert.ok(await sandboxUserCan('touch', [path.join(target, 'PG_VERSION')]), 'the server user writes its files');

    assert.deepEqual(
      [await mode(dataDir), await mode(path.join(dataDir, 'restores')), await mode(path.join(dataDir, 'secret.key'))],
      [0o711, 0o711, 0o600],
    );
    assert.equal(await sandboxUserCan('ls', [dataDir]), false, 'the data directory cannot be listed');
    for (const file of ['secret.key', 'temporal.db', 'storages/shop/b1.dump.hsb'])
      assert.equal(await sandboxUserCan('cat', [path.join(dataDir, file)]), false, `${file} cannot be read`);
    assert.equal(await sandboxUserCan('ls', [path.join(dataDir, 'storages')]), false, 'nor the storage listed');
  });

  it('leaves a restore directory outside data/restores and the data directory as they are', async (t) => {
    if (!runningAsRoot()) return t.skip('not running as root: modes are only changed for a restore as root');
    const other = path.join(dir, 'elsewhere');
    await mkdir(other, { mode: 0o700 });
    await prepareDataDirFor(path.join(other, 'r'), other);
    assert.equal(await mode(other), 0o700, 'not a data directory: its restore root would be other/restores');
  });
});
