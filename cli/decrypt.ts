/**
 * `hindsight decrypt <file> [--key <secret.key>] [--identity <file>] [--expect <object key>] [-o <out>]`:
 * the plaintext of an encrypted object, with the secret key alone (no catalog, no Temporal), or for
 * an object written in public-key mode with the identity file alone, or in KMS mode with the KMS
 * key's configuration and credentials alone (--kms-config); without --key, --identity or --kms-config,
 * the key the header names is taken from the keyring. The
 * identity in the object's header is printed on stderr, so that a person can see which backup a
 * file really is; with --expect, any other object is refused before a byte is written.
 * WAL files, base backups and their manifests, stored zstd-compressed, come out decompressed
 * (their identity says what they are); a logical dump comes out as the archive pg_restore reads
 * (decompressed when it was compressed outside pg_dump); archive records come out as stored.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { PassThrough, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ArchiveDecoder } from '../lib/backup/compress-decoder.ts';
import { MAX_HEADER_BYTES, decodeHeader } from '../lib/crypto/backup-header.ts';
import { DecryptStream, type BackupHeader, type DecryptionKey } from '../lib/crypto/chunked-gcm.ts';
import { describeIdentity, identityForObjectKey, type ObjectIdentity } from '../lib/crypto/object-identity.ts';
import { archiveObjectKind, DECODED_CONTENT, isZstdArchiveObject } from '../lib/wal/archive-object-kind.ts';
import { zstdDecompressStage } from '../lib/wal/segment-codec.ts';
import { requireInputFile, requireOutputDirectory } from './file-args.ts';
import { formatBytes, printJson, UsageError } from './output.ts';

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

/** Counts what passes and keeps its first bytes, which say what kind of file it is. */
function plaintextProbe() {
  const probe = { bytes: 0, head: Buffer.alloc(0), stream: new PassThrough() };
  probe.stream.on('data', (chunk: Buffer) => {
    probe.bytes += chunk.length;
    if (probe.head.length < 512) probe.head = Buffer.concat([probe.head, chunk]).subarray(0, 512);
  });
  return probe;
}

/** What the plaintext is, from its first bytes (and, for a PITR object, the key it was stored under). */
export function describePlaintext(head: Buffer, identity: ObjectIdentity | undefined): string {
  const pitrKey = identity?.kind === 'pitr-object' ? identity.key : '';
  const kind = archiveObjectKind(pitrKey);
  const inside = pitrKey.includes('/base/') ? ' holding a base backup (a tar archive)' : '';
  if (head.subarray(0, 5).toString('latin1') === 'PGDMP')
    return 'a pg_dump custom-format archive (pg_restore reads it)';
  if (head.subarray(257, 262).toString('latin1') === 'ustar')
    return identity?.kind === 'logical-backup'
      ? 'a tar of a pg_dump directory archive (a parallel dump: tar -x into an empty directory, then pg_restore -Fd reads it)'
      : 'a tar archive (tar -x unpacks it)';
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return `zstd-compressed data${inside} (zstd -d)`;
  if (head[0] === 0x1f && head[1] === 0x8b) return `gzip-compressed data${inside} (gzip -d)`;
  if (kind) return DECODED_CONTENT[kind];
  return 'data of no kind this command knows';
}

/**
 * The identity the file's header claims, read before decryption to choose the stages after it.
 * Unauthenticated here, but the header is part of every chunk's associated data: a forged one
 * fails the first chunk. A header that cannot be read is left for the decrypter to report.
 */
async function claimedIdentity(file: string): Promise<ObjectIdentity | undefined> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(MAX_HEADER_BYTES);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    return decodeHeader(head.subarray(0, bytesRead)).identity;
  } catch {
    return undefined;
  } finally {
    await handle.close();
  }
}

/**
 * file → decrypt → (zstd -d for compressed PITR objects, and for logical dumps whose plaintext is a
 * zstd stream) → sink; the decryption's error is the one reported.
 */
async function decodeTo(file: string, decrypt: DecryptStream, sinks: Writable[]): Promise<void> {
  const identity = await claimedIdentity(file);
  const zstd =
    identity?.kind === 'pitr-object' && isZstdArchiveObject(identity.key) ? zstdDecompressStage(file) : undefined;
  const stages: Array<NodeJS.ReadableStream | NodeJS.WritableStream> = [
    createReadStream(file),
    decrypt,
    ...(zstd ? [zstd.stage] : []),
    ...(identity?.kind === 'logical-backup' ? [new ArchiveDecoder({ what: file })] : []),
    ...sinks,
  ];
  const [piped, exited] = await Promise.allSettled([pipeline(stages), zstd?.exited]);
  if (piped.status === 'rejected' || exited.status === 'rejected') zstd?.kill();
  if (piped.status === 'rejected') throw piped.reason;
  if (exited.status === 'rejected') throw exited.reason;
}

/** The object, the key file (--key) and the output's directory (-o) exist: checked before the key is read or a byte written. */
export async function checkDecryptFiles(
  file: string,
  keyFile: string | undefined,
  output: string | undefined,
  identityFile?: string,
) {
  await requireInputFile(
    file,
    'encrypted file',
    'give the path of an object copied from storage (hindsight backups download <id> --encrypted -o <file> fetches one)',
  );
  if (keyFile !== undefined)
    await requireInputFile(
      keyFile,
      '--key file',
      "give the secret key file (the server's data/secret.key or your offline copy), or leave --key out to use the configured keyring",
    );
  if (identityFile !== undefined)
    await requireInputFile(
      identityFile,
      '--identity file',
      'give the identity file hindsight key generate wrote for the recipient the object was written for',
    );
  if (output !== undefined) await requireOutputDirectory(output);
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
    await decodeTo(file, decrypt(), [process.stdout]);
    return;
  }
  // Written beside the target and renamed once every chunk has authenticated, so a damaged
  // backup never leaves a plausible-looking partial archive behind.
  const partial = `${options.output}.partial-${process.pid}`;
  const probe = plaintextProbe();
  try {
    await decodeTo(file, decrypt(), [probe.stream, createWriteStream(partial, { mode: 0o600 })]);
    await rename(partial, options.output);
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
  const content = describePlaintext(probe.head, header?.identity);
  if (options.json)
    printJson({
      output: options.output,
      bytes: probe.bytes,
      content,
      formatVersion: header?.version,
      keyId: header?.keyId,
      identity: header?.identity ?? null,
    });
  else
    process.stdout.write(
      `wrote ${options.output}: ${probe.bytes} bytes (${formatBytes(probe.bytes)}), ${content}${header?.identity ? `, ${describeIdentity(header.identity)}` : ''}\n`,
    );
}
