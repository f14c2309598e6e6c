import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backupLines, verificationLine } from '../../cli/backup-output.ts';
import { formatVerification } from '../../cli/verification-report.ts';
import { counted } from '../../lib/counted.ts';
import type { VerificationSummary } from '../../lib/verify/report.ts';
import type { BackupOutcome } from '../../temporal/contracts/backup.ts';

describe('counts in what people read: singular for exactly one', () => {
  it('counts a noun, with its irregular plural when given, and an unknown count as "?"', () => {
    assert.equal(counted(1, 'table'), '1 table');
    assert.equal(counted(0, 'table'), '0 tables');
    assert.equal(counted(2, 'entry', 'entries'), '2 entries');
    assert.equal(counted(1, 'entry', 'entries'), '1 entry');
    assert.equal(counted(null, 'row'), '? rows');
  });

  it('prints a backup of one table and one row, and its verification, in the singular', () => {
    const outcome = {
      backupId: 'b1',
      database: 'shop',
      status: 'complete',
      sizeBytes: 10,
      dumpBytes: 20,
      sha256: 'ab',
      rows: 1,
      tables: 1,
      copies: [],
    } as unknown as BackupOutcome;
    assert.ok(backupLines(outcome).includes('  rows          1 in 1 table'), backupLines(outcome).join('\n'));
    const report = {
      stages: [],
      tables: 1,
      schemas: 1,
      restoredRows: 1,
      expectedRows: 1,
      restoredSizeBytes: 1,
      sourceSizeBytes: 1,
      comparisons: [],
      load: { role: 'r', entries: 1, extensions: [], failed: [], refused: [], skipped: [] },
    };
    const v = { id: 'v1', backupId: 'b1', status: 'successful', report } as unknown as VerificationSummary;
    assert.equal(verificationLine('shop', 'b1', v), 'verified: 1 table, 1 row restored and matched (v1)');
    const text = formatVerification(v);
    assert.match(text, /^ {2}1 schema, 1 table, 1 of 1 row; restored/m);
    assert.match(text, /loaded as role r: 1 archive entry$/m);
  });

  it('prints the time to a usable database, and a table whose content differs with both checksums', () => {
    const comparison = {
      schema: 'public',
      table: 'orders',
      expected: 3,
      restored: 3,
      ok: false,
      checksum: { scope: 'full', expected: '12', restored: '-7' },
    };
    const report = { stages: [], tables: 1, schemas: 1, restoredRows: 3, expectedRows: 3, comparisons: [comparison] };
    const v = {
      id: 'v2',
      backupId: 'b2',
      status: 'failed',
      report: { ...report, restoredSizeBytes: 1, sourceSizeBytes: 1, timeToUsableSeconds: 2.25, load: null },
    } as unknown as VerificationSummary;
    const text = formatVerification(v);
    assert.match(text, /restored 1 B \(source 1 B\) in 2\.3 s to a usable database$/m);
    assert.match(
      text,
      /mismatch public\.orders: 3 rows on both sides, content checksum \(full\) expected 12, restored -7$/m,
    );
  });
});
