/**
 * What every fault case shares (docs/reliability.md): a source big enough to be caught mid-dump,
 * the moment pg_dump is copying, S3 behind the fault proxy, and the checks each case ends with.
 */
import assert from 'node:assert/strict';
import { connect, type PgTarget } from '../../lib/pg/connection.ts';
import type { LocalCluster } from '../../lib/pg/cluster.ts';
import { runDeepChecks } from '../../services/doctor-deep.ts';
import type { FaultProxy } from './fault-proxy.ts';
import { tableFingerprint, type Platform } from './platform.ts';
import type { MotoServer } from './servers/moto.ts';
import { waitFor } from './wait.ts';

/** About 60 MB of table: a dump of several seconds, long enough to be caught in its COPY. */
export const LEDGER = `create table ledger (id int primary key, account text not null, memo text not null);
  insert into ledger select g, 'acct-' || (g % 997), md5(g::text) || repeat(' memo', 1 + g % 9)
  from generate_series(1, 600000) g;`;

/** Resolves once pg_dump is copying a table on `cluster`: the middle of a dump. */
export async function dumpIsCopying(cluster: LocalCluster): Promise<void> {
  await waitFor(
    'pg_dump copying a table',
    async () => {
      const client = await connect('fault test', cluster.target('postgres'));
      try {
        const { rows } = await client.query(
          "select 1 from pg_stat_activity where application_name = 'hindsight' and query ilike 'copy %'",
        );
        return rows.length > 0 ? true : undefined;
      } finally {
        await client.end();
      }
    },
    60_000,
    50,
  );
}

/** `hindsight doctor --deep` finds the catalog, Temporal and every storage in agreement. */
export async function assertInAgreement(platform: Platform): Promise<void> {
  const disagreements: string[] = [];
  await runDeepChecks(platform.runtime, platform.client, (name, status, detail) => {
    if (status === 'fail') disagreements.push(`${name}: ${detail}`);
  });
  assert.deepEqual(disagreements, [], 'doctor --deep finds the catalog, Temporal and storage in agreement');
}

/** The backup restores into `target` on the source's server with every row of `table` as the source has it. */
export async function assertRestoresIdentical(
  platform: Platform,
  backup: { database: string; backupId: string; source: PgTarget },
  target: string,
  table = 'ledger',
): Promise<void> {
  const { database, backupId, source } = backup;
  await (await platform.ops.startRestore({ database, backupId, to: { database: target } })).result();
  assert.deepEqual(
    await tableFingerprint({ ...source, database: target }, table, 'id'),
    await tableFingerprint(source, table, 'id'),
    `backup ${backupId} restores identical to ${database}`,
  );
}

/** An S3 storage named `name` on moto's `bucket`, reached through the fault proxy. */
export function saveProxiedS3(platform: Platform, name: string, moto: MotoServer, proxy: FaultProxy, bucket: string) {
  return platform.ops.saveStorage(name, {
    type: 's3',
    bucket,
    region: moto.region,
    endpoint: proxy.url,
    forcePathStyle: true,
    accessKeyId: moto.accessKeyId,
    secretAccessKey: moto.secretAccessKey,
  });
}
