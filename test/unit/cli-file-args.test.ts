/**
 * A mistyped path on the command line is answered with the path and the fix, before any work: the
 * object and --key of `decrypt`, and the directory of `-o` for `decrypt` and `download`. The CLI
 * runs as a child process, as a person runs it; none of these needs a server.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const cli = path.resolve('bin/hindsight.mjs');

async function refusal(args: string[], code = 1): Promise<string> {
  const result = await run(process.execPath, [cli, ...args]).then(
    () => ({ code: 0, stderr: '' }),
    (e: { code: number; stderr: string }) => e,
  );
  assert.equal(result.code, code, `hindsight ${args.join(' ')} fails`);
  assert.doesNotMatch(result.stderr, /ENOENT/, 'no raw errno');
  return result.stderr;
}

describe('hindsight decrypt and download: a missing file or directory is named with the fix', () => {
  let dir: string;
  let object: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'hindsight-file-args-'));
    object = path.join(dir, 'object.hsb');
    await writeFile(object, 'not really encrypted');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('names a missing object and says where one comes from', async () => {
    const missing = path.join(dir, 'nope.hsb');
    const stderr = await refusal(['decrypt', missing, '-o', path.join(dir, 'out')]);
    assert.match(stderr, new RegExp(`^hindsight: encrypted file ${missing} does not exist: .*backups download`, 'm'));
  });

  it('names a missing --key file and the key it should be', async () => {
    const key = path.join(dir, 'secret.key');
    const stderr = await refusal(['decrypt', object, '--key', key, '-o', path.join(dir, 'out')]);
    assert.match(stderr, new RegExp(`^hindsight: --key file ${key} does not exist: give the secret key file`, 'm'));
  });

  it('names the missing directory of -o and how to make it, for decrypt and download', async () => {
    const missingDir = path.join(dir, 'missing');
    const out = path.join(missingDir, 'shop.dump');
    for (const args of [
      ['decrypt', object, '--key', object, '-o', out],
      ['download', 'b-1', '-o', out],
    ]) {
      const stderr = await refusal(args);
      assert.ok(
        stderr.includes(`-o ${out}: directory ${missingDir} does not exist: create it first (mkdir -p ${missingDir})`),
        stderr,
      );
    }
  });

  it('db add --password-file: refuses a URL with a password of its own, and names a missing file', async () => {
    const file = path.join(dir, 'shop.password');
    await writeFile(file, 'from-the-file\n', { mode: 0o600 });
    const both = await refusal(
      ['db', 'add', 'shop', '--url', 'postgres://reader:in-url@db/shop', '--password-file', file],
      2,
    );
    assert.match(both, /^hindsight: --url has a password and --password-file gives another: give the password in one/m);
    assert.doesNotMatch(both, /in-url|from-the-file/, 'neither password is echoed');
    const missing = path.join(dir, 'nope.password');
    const absent = await refusal([
      'db',
      'add',
      'shop',
      '--url',
      'postgres://reader@db/shop',
      '--password-file',
      missing,
    ]);
    assert.match(absent, new RegExp(`^hindsight: --password-file ${missing} does not exist`, 'm'));
  });
});
