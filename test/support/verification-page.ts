/**
 * The console's verification report page (web/src/routes/(app)/verifications/[id]) read as a person
 * would: the table of tables, the measured restore time, the amcheck line, and every stage.
 */
import assert from 'node:assert/strict';

/** The page of a successful verification: its tables as [table, expected, restored, content, result], sorted. */
export function assertSuccessfulReportPage(html: string, tables: string[][]): void {
  const rows = [...html.matchAll(/<tr[^>]*data-testid="table-count"[^>]*>([\s\S]*?)<\/tr>/g)].map((m) =>
    m[1]!
      .split('</td>')
      .slice(0, 5)
      .map((cell) => cell.replace(/<[^>]*>/g, '').trim()),
  );
  assert.deepEqual(rows.sort(), tables);
  assert.match(html, /data-testid="time-to-usable">\s*\d+\.\d s\s*</);
  // Server-rendered markup keeps the framework's hydration comments around a branch's text.
  assert.match(html, /data-testid="indexes-checked">(?:\s|<!--[^>]*-->)*(\d+) of \1, intact(?:\s|<!--[^>]*-->)*</);
  assert.match(html, /data-testid="verification-status">successful</);
  assert.match(html, /data-testid="restore-exit-code">0</);
  const stages = html.slice(
    html.indexOf('data-testid="verification-stages"'),
    html.indexOf('</ol>', html.indexOf('data-testid="verification-stages"')),
  );
  assert.equal(stages.match(/<li class="ok[\s"]/g)?.length, 7, 'seven stages, each ok');
  assert.ok(stages.includes('pg_restore into the sandbox'), 'the stages are named');
  assert.ok(stages.includes('Indexes checked with amcheck'), 'amcheck is a stage of its own');
}
