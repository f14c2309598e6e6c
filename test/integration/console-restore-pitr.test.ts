import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect } from '../../lib/pg/connection.ts';
import { localDateTime } from '../../lib/time-zone.ts';
import type { PitrOutcome } from '../../temporal/contracts/pitr.ts';
import { settledRestorePage, startSignedInConsole, type SignedInConsole } from '../support/console.ts';
import type { Platform } from '../support/platform.ts';
import { startPitrWithRows, stopPitrPlatform, type PitrSource, type Row } from '../support/pitr-fixture.ts';

describe('console: the restore wizard on a database with point-in-time recovery', () => {
  let platform: Platform;
  let con: SignedInConsole;
  let source: PitrSource;
  let rows: Row[] = [];
  const restoredDirs: string[] = [];

  before(async () => {
    ({ platform, source, rows } = await startPitrWithRows('shop', { forMs: 3000, everyMs: 100 }));
    con = await startSignedInConsole(platform);
  });

  after(async () => {
    await con?.close();
    await stopPitrPlatform({ platform, source, database: 'shop', restoredDirs });
  });

  it('shows the recoverable window as a bar, refuses a moment outside it, and restores to the latest moment into a sandbox', async () => {
    const step2 = await con.page('/restore?database=shop&tz=Europe/Paris');
    assert.match(step2, /data-testid="pitr-timeline"/);
    const window = (await platform.runtime.catalog.wal.baseBackupsOf('shop', { status: 'complete' }))[0]!;
    assert.ok(
      step2.includes(window.stopTime!.toISOString().slice(0, 16).replace('T', ' ')),
      "the window starts at the base backup's end",
    );
    assert.match(step2, /Europe\/Paris/);

    // A moment before the base backup ended lies outside every window: step 2 again, saying so.
    const early = localDateTime(new Date(window.stopTime!.getTime() - 3_600_000), 'Europe/Paris');
    const refused = await con.page(
      `/restore?database=shop&source=pitr&time=${encodeURIComponent(early)}&tz=Europe%2FParis`,
    );
    assert.match(refused, /is outside every recoverable window/);
    assert.doesNotMatch(refused, /3\. Where to restore/);

    // A moment inside the window moves on to the target.
    const inside = localDateTime(rows[Math.floor(rows.length / 2)]!.at, 'Europe/Paris');
    const step3 = await con.page(
      `/restore?database=shop&source=pitr&time=${encodeURIComponent(inside)}&tz=Europe%2FParis`,
    );
    assert.match(step3, /3\. Where to restore/);
    assert.match(step3, /\+0[12]:00 \(Europe\/Paris\)/);

    const started = await con.action('/restore?/start', {
      database: 'shop',
      source: 'latest',
      to: 'sandbox',
      confirm: 'shop',
    });
    assert.equal(started.type, 'redirect', started.data);
    const html = await settledRestorePage(con, started.location!, 90_000, 700);
    assert.match(html, /data-state="completed"/, html.slice(html.indexOf('<main'), html.indexOf('<main') + 1500));
    assert.match(html, /Recovered and promoted/);
    assert.match(html, /data-verified="true"/);
    assert.match(html, /sandbox \(checked and removed\)/);
    const outcome = (await platform.client.workflow
      .getHandle(
        started
          .location!.replace(/^\/restores\//, '')
          .split('/')
          .map(decodeURIComponent)
          .join('/'),
      )
      .result()) as { reachedLsn: string; kept: boolean };
    assert.ok(html.includes(outcome.reachedLsn), 'the page shows the LSN recovery reached');
    assert.equal(outcome.kept, false);
    assert.deepEqual(
      (await readdir(platform.config.sandboxRoot)).filter((d) => d.startsWith('pitr-')),
      [],
      'the sandbox is gone',
    );
  });

  it('restores into a directory and stops the server when asked: the page and /api/v1 say how to start it again', async () => {
    const dir = path.join(platform.dir, 'console-then-stop');
    restoredDirs.push(dir);
    const started = await con.action('/restore?/start', {
      database: 'shop',
      source: 'latest',
      to: 'directory',
      directory: dir,
      thenStop: 'on',
      confirm: 'shop',
    });
    assert.equal(started.type, 'redirect', started.data);
    const html = await settledRestorePage(con, started.location!, 90_000, 700);
    assert.match(html, /data-state="completed"/, html.slice(html.indexOf('<main'), html.indexOf('<main') + 1500));
    assert.match(html, /data-testid="pitr-instructions"/);
    assert.match(html, /Stopped; listens on/);
    assert.match(html, /Start again/);
    assert.doesNotMatch(html, /<dt>Stop<\/dt>/);
    const workflowId = started
      .location!.replace(/^\/restores\//, '')
      .split('/')
      .map(decodeURIComponent)
      .join('/');
    const api = JSON.parse(await con.page(`/api/v1/restores/${encodeURIComponent(workflowId)}`)) as {
      instructions: { running: boolean; start: string; listening: { port: number; dataDirectory: string } };
    };
    assert.equal(api.instructions.running, false);
    assert.equal(api.instructions.listening.dataDirectory, dir);
    assert.ok(html.includes(api.instructions.start), 'the page shows the start command /api/v1 gives');
    const outcome = (await platform.client.workflow.getHandle(workflowId).result()) as PitrOutcome;
    assert.equal(outcome.kept, true);
    const probe = connect('probe', { ...source.target, host: '127.0.0.1', port: outcome.port!, sslmode: 'disable' });
    await assert.rejects(probe, 'no server listens on the restored port');
  });
});
