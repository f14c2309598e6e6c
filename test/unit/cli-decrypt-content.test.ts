import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, it } from 'node:test';
import { describePlaintext } from '../../cli/decrypt.ts';
import { pitrObjectIdentity } from '../../lib/crypto/object-identity.ts';

/** A real tar archive of one small file, as `tar` writes it. */
function tarOfOneFile(): Buffer {
  const dir = mkdtempSync(path.join(tmpdir(), 'hindsight-tar-'));
  try {
    writeFileSync(path.join(dir, 'PG_VERSION'), '17\n');
    return execFileSync('tar', ['-cf', '-', '-C', dir, 'PG_VERSION']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('hindsight decrypt -o: what the plaintext is', () => {
  const base = pitrObjectIdentity('pitr/7312345678901234567/base/20261123T030000Z-3f9a1c.tar.zst');
  const cases: Array<{ name: string; head: Buffer; identity?: ReturnType<typeof pitrObjectIdentity>; is: RegExp }> = [
    { name: 'a tar archive', head: tarOfOneFile(), is: /^a tar archive/ },
    {
      name: 'gzip data of a base backup',
      head: gzipSync(Buffer.from('x')),
      identity: base,
      is: /^gzip-compressed data holding a base backup/,
    },
    {
      name: 'a WAL segment by its key',
      head: Buffer.from([0x10, 0xd1, 0x06, 0x00]),
      identity: pitrObjectIdentity('pitr/7312345678901234567/wal/000000010000000000000003'),
      is: /^a WAL segment/,
    },
    {
      name: 'a timeline history file by its key',
      head: Buffer.from('1\t0/3000000\tno recovery target specified\n'),
      identity: pitrObjectIdentity('pitr/7312345678901234567/wal/00000002.history'),
      is: /^a timeline history file$/,
    },
    { name: 'nothing it knows, even empty', head: Buffer.alloc(0), is: /^data of no kind this command knows$/ },
  ];
  for (const c of cases) it(c.name, () => assert.match(describePlaintext(c.head, c.identity), c.is));
});
