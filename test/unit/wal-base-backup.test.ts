import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { parseBackupPositions } from '../../lib/wal/base-backup.ts';
import { TarEntryWatcher } from '../../lib/wal/tar-watch.ts';

const label =
  'START WAL LOCATION: 0/5000028 (file 000000010000000000000005)\nCHECKPOINT LOCATION: 0/5000060\nBACKUP METHOD: streamed\nBACKUP FROM: primary\nSTART TIME: 2026-11-23 16:40:09 UTC\nLABEL: hindsight x\nSTART TIMELINE: 1\n';
const manifest =
  '{ "PostgreSQL-Backup-Manifest-Version": 1,\n"Files": [\n],\n"WAL-Ranges": [\n{ "Timeline": 1, "Start-LSN": "0/5000028", "End-LSN": "0/5000138" }\n],\n"Manifest-Checksum": "ab"}\n';

describe('base backup positions from the tar itself', () => {
  it('reads backup_label and backup_manifest out of a tar passing through, in any chunking', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'tar-watch-'));
    try {
      await writeFile(path.join(dir, 'backup_label'), label);
      await writeFile(path.join(dir, 'PG_VERSION'), '15\n');
      await writeFile(path.join(dir, 'big'), randomBytes(300_001));
      await writeFile(path.join(dir, 'backup_manifest'), manifest);
      const tar = execFileSync(
        'tar',
        ['--format=ustar', '-cf', '-', '-C', dir, 'backup_label', 'PG_VERSION', 'big', 'backup_manifest'],
        { maxBuffer: 1 << 24 },
      );
      for (const piece of [1, 511, 512, 4096, 65_536]) {
        const chunks: Buffer[] = [];
        for (let i = 0; i < tar.length; i += piece) chunks.push(tar.subarray(i, i + piece));
        const watcher = new TarEntryWatcher(new Set(['backup_label', 'backup_manifest']));
        const out: Buffer[] = [];
        await pipeline(
          Readable.from(chunks),
          watcher,
          new Writable({
            write(c: Buffer, _e, cb) {
              out.push(c);
              cb();
            },
          }),
        );
        assert.ok(Buffer.concat(out).equals(tar), 'bytes pass through unchanged');
        assert.equal(watcher.captured.get('backup_label')?.toString(), label);
        assert.equal(watcher.captured.get('backup_manifest')?.toString(), manifest);
        assert.equal(watcher.captured.has('big'), false);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('parses start LSN and timeline from backup_label and the end LSN from the manifest', () => {
    assert.deepEqual(parseBackupPositions(label, manifest), { startLsn: 0x5000028n, timeline: 1, stopLsn: 0x5000138n });
    assert.equal(parseBackupPositions('', manifest), undefined);
    assert.equal(parseBackupPositions(label, '{}'), undefined);
  });
});
