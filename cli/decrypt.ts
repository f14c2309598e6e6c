/**
 * `hindsight decrypt <file> [--key <secret.key>] [--expect <object key>] [-o <out>]`: the
 * plaintext of an encrypted object, with the secret key alone (no catalog, no Temporal); without
 * --key, the key the header names is taken from the keyring. The
 * identity in the object's header is printed on stderr, so that a person can see which backup a
 * file really is; with --expect, any other object is refused before a byte is written.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { DecryptStream, type BackupHeader, type DecryptionKey } from '../lib/crypto/chunked-gcm.ts';
import { describeIdentity, identityForObjectKey } from '../lib/crypto/object-identity.ts';
import { printJson, UsageError } from './output.ts';

export interface DecryptCommandOptions {
  /** A key file's key, or the keyring's resolver (the key the header names). */
  key: DecryptionKey;
  output?: string | undefined;
  /** The object's key in storage (`<database>/<backup id>[.dump.hsb]`, `pitr/…`) it must be. */
  expect?: string | undefined;
  json: boolean;
}

function describeHeader(header: BackupHeader): string {
  const what = header.identity ? describeIdentity(header.identity) : 'an object that carries no identity';
  return `${what} (format version ${header.version}, key ${header.keyId})`;
}

export async function decryptCommand(file: string, options: DecryptCommandOptions): Promise<void> {
  const { key } = options;
  const expect = options.expect !== undefined ? identityForObjectKey(options.expect) : undefined;
  let header: BackupHeader | undefined;
  const decrypt = () =>
    new DecryptStream(key, {
      ...(expect ? { expect } : {}),
      objectName: file,
      onHeader: (h) => {
        header = h;
        process.stderr.write(`hindsight decrypt: ${file} is ${describeHeader(h)}\n`);
      },
    });
  if (!options.output) {
    if (process.stdout.isTTY)
      throw new UsageError('refusing to write a binary archive to a terminal: pass -o <file> or redirect stdout');
    await pipeline(createReadStream(file), decrypt(), process.stdout);
    return;
  }
  // Written beside the target and renamed once every chunk has authenticated, so a damaged
  // backup never leaves a plausible-looking partial archive behind.
  const partial = `${options.output}.partial-${process.pid}`;
  try {
    await pipeline(createReadStream(file), decrypt(), createWriteStream(partial, { mode: 0o600 }));
    await rename(partial, options.output);
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
  if (options.json)
    printJson({
      output: options.output,
      formatVersion: header?.version,
      keyId: header?.keyId,
      identity: header?.identity ?? null,
    });
}
