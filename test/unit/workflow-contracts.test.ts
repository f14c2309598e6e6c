import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { NAME_PATTERN, NAME_SOURCE, databaseNameSchema, nameSchema } from '../../lib/names.ts';
import * as backup from '../../temporal/contracts/backup.ts';
import * as catalogBackup from '../../temporal/contracts/catalog-backup.ts';
import * as catalogMaintenance from '../../temporal/contracts/catalog-maintenance.ts';
import { PROGRESS_SIGNAL, type WorkflowContract } from '../../temporal/contracts/common.ts';
import * as health from '../../temporal/contracts/health.ts';
import * as notifications from '../../temporal/contracts/notifications.ts';
import * as pitr from '../../temporal/contracts/pitr.ts';
import * as pitrDrill from '../../temporal/contracts/pitr-drill.ts';
import * as restore from '../../temporal/contracts/restore.ts';
import * as restoreDrill from '../../temporal/contracts/restore-drill.ts';
import * as retention from '../../temporal/contracts/retention.ts';
import * as servers from '../../temporal/contracts/servers.ts';
import * as verify from '../../temporal/contracts/verify.ts';
import type * as workflows from '../../workflows/index.ts';
import {
  PRODUCTION_DIRS,
  findInSources,
  sourceFiles,
  unexpectedHits,
  withoutComments,
} from '../support/source-scan.ts';

const families = {
  backup,
  catalogBackup,
  catalogMaintenance,
  health,
  notifications,
  pitr,
  pitrDrill,
  restore,
  restoreDrill,
  retention,
  servers,
  verify,
};
const exported = Object.values(families).flatMap((family) => Object.values(family as Record<string, unknown>));

const isContract = (v: unknown): v is WorkflowContract<unknown, unknown> =>
  typeof v === 'object' &&
  v !== null &&
  typeof (v as { type?: unknown }).type === 'string' &&
  typeof (v as { kind?: unknown }).kind === 'string';
/** defineQuery/defineSignal/defineUpdate return { type: 'query' | 'signal' | 'update', name }. */
const isMessage = (v: unknown): v is { type: 'query' | 'signal' | 'update'; name: string } =>
  typeof v === 'object' &&
  v !== null &&
  ['query', 'signal', 'update'].includes((v as { type?: unknown }).type as string) &&
  typeof (v as { name?: unknown }).name === 'string';

const contracts = exported.filter(isContract);
const workflowTypes = contracts.map((c) => c.type);
const messages = exported.filter(isMessage);
const messageNames = [...new Set(messages.map((m) => m.name))];
const alternatives = (names: string[]) => names.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|');

/** Files that still name workflows by string: none left. */
const PENDING_STRING_NAMES = new Map<string, number>([]);

/**
 * Copies of the name rule that cannot import lib/names.ts yet: HTML pattern attributes, and the
 * console's route matcher, which also runs in the browser (where lib/ and zod are not bundled).
 */
const PENDING_NAME_COPIES = new Map([
  ['web/src/lib/components/ui/NameField.svelte', 1],
  ['web/src/params/database.ts', 1],
]);

/**
 * Compile-time: each contract's input and outcome are the workflow function's own, so a start
 * helper cannot pass what the workflow does not take (tsc checks these lines; they cost nothing at run time).
 */
type Signature<C> = C extends WorkflowContract<infer I, infer O> ? (input: I) => Promise<O> : never;
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
/** A workflow function as a contract describes it: an input with a default (the watchdog's) is still its input. */
type Workflow<W extends (input: never) => unknown> = (input: Exclude<Parameters<W>[0], undefined>) => ReturnType<W>;
type Workflows = typeof workflows;
/** A family's contracts by the workflow each describes: `backupDatabaseWorkflow` is `backupDatabase`'s. */
type ByWorkflowName<F> = { [K in keyof F as K extends `${infer N}Workflow` ? N : never]: F[K] };
type Contracts = ByWorkflowName<typeof backup> &
  ByWorkflowName<typeof restore> &
  ByWorkflowName<typeof verify> &
  ByWorkflowName<typeof retention> &
  ByWorkflowName<typeof health> &
  ByWorkflowName<typeof notifications> &
  ByWorkflowName<typeof pitr> &
  ByWorkflowName<typeof pitrDrill> &
  ByWorkflowName<typeof servers> &
  ByWorkflowName<typeof catalogBackup> &
  ByWorkflowName<typeof catalogMaintenance>;
type Matches = {
  [N in keyof Contracts]: N extends keyof Workflows
    ? Workflows[N] extends (input: never) => unknown
      ? Same<Signature<Contracts[N]>, Workflow<Workflows[N]>>
      : false
    : false;
};
true satisfies false extends Matches[keyof Contracts] ? never : true;

describe('workflow contracts', () => {
  it('give every workflow the worker registers exactly one contract, and nothing else', async () => {
    const index = await readFile('workflows/index.ts', 'utf8');
    const registered = [...index.matchAll(/export \{ (\w+) \} from/g)].map((m) => m[1]!).sort();
    assert.ok(registered.length >= 13, `workflows/index.ts registers ${registered.length} workflows`);
    assert.deepEqual([...workflowTypes].sort(), registered);
    assert.equal(new Set(workflowTypes).size, workflowTypes.length, 'two contracts name the same workflow type');
  });

  it('keep the type names and signal names that committed histories carry', async () => {
    const historyFiles = [
      ...(await readdir('test/histories'))
        .filter((f) => f.endsWith('.json'))
        .map((f) => path.join('test/histories', f)),
      ...['v0.1', 'v0.2'].flatMap((v) =>
        ['backupDatabase', 'restoreBackup'].map((n) => path.join('test/histories', v, `${n}.json`)),
      ),
    ];
    const signalNames = new Set(messages.filter((m) => m.type === 'signal').map((m) => m.name));
    let signals = 0;
    for (const file of historyFiles) {
      const history = JSON.parse(await readFile(file, 'utf8')) as {
        events: Array<Record<string, { workflowType?: { name: string }; signalName?: string }>>;
      };
      const started = history.events[0]!.workflowExecutionStartedEventAttributes;
      assert.ok(started?.workflowType, `${file} starts with WorkflowExecutionStarted`);
      assert.ok(
        workflowTypes.includes(started.workflowType.name),
        `${file}: workflow type ${started.workflowType.name} has no contract`,
      );
      for (const event of history.events) {
        const signalName = event.workflowExecutionSignaledEventAttributes?.signalName;
        if (signalName === undefined) continue;
        signals += 1;
        assert.ok(signalNames.has(signalName), `${file}: signal ${signalName} has no definition in a contract`);
      }
    }
    assert.ok(signals > 0, 'the committed histories hold signals to check');
  });

  it('build the ids that running workflows and schedules already carry', () => {
    const at = new Date('2026-11-23T10:30:00Z');
    const iso = '2026-11-23T10:30:00.000Z';
    assert.equal(backup.backupWorkflowId('shop', at), `backup/shop/${iso}`);
    assert.equal(backup.backupScheduleId('shop'), 'backup/shop');
    assert.equal(backup.replicateWorkflowId('20261123T103000Z-3f9a1c', at), `replicate/20261123T103000Z-3f9a1c/${iso}`);
    assert.equal(restore.restoreWorkflowId('shop', at), `restore/shop/${iso}`);
    assert.equal(pitr.pitrRestoreWorkflowId('shop', at), `restore/shop/${iso}`);
    assert.equal(pitr.walArchiverId('shop'), 'wal/shop');
    assert.equal(pitr.walChainMonitorWorkflowId('shop'), 'walchain/shop');
    assert.equal(pitr.baseBackupWorkflowId('shop', iso), `basebackup/shop/${iso}`);
    assert.equal(pitr.baseBackupScheduleId('shop'), 'basebackup/shop');
    assert.equal(retention.retentionWorkflowId('shop', at), `retention/shop/${iso}`);
    assert.equal(retention.retentionScheduleId('shop'), 'retention/shop');
    assert.equal(verify.verifierWorkflowId('shop'), 'verify/shop');
    assert.equal(verify.verifyScheduleId('shop'), 'verify/shop');
    assert.equal(health.healthWorkflowId('shop'), 'health/shop');
    assert.equal(notifications.deliveryWorkflowId('shop'), 'notify/shop');
    assert.equal(notifications.deliveryWorkflowId(null), 'notify/@workspace');
    assert.equal(servers.serverBackupWorkflowId('pg', at), `server/pg/${iso}`);
    assert.equal(servers.serverScheduleId('pg'), 'server/pg');
  });

  it('read the database back from a restore id, and nothing from other ids', () => {
    assert.equal(restore.databaseOfRestoreId(restore.restoreWorkflowId('shop_2', new Date())), 'shop_2');
    assert.equal(restore.databaseOfRestoreId('backup/shop/2026-11-23T10:30:00.000Z'), null);
    assert.equal(restore.databaseOfRestoreId('restore/Shop/2026-11-23T10:30:00.000Z'), null);
    assert.equal(restore.databaseOfRestoreId('restore/shop/x/y'), null);
  });

  it('leave no workflow, query or signal named by a string outside temporal/contracts/', async (t) => {
    const files = (await sourceFiles('.', PRODUCTION_DIRS)).filter((f) => !f.startsWith('temporal/contracts/'));
    assert.ok(files.length > 100, `found ${files.length} source files to scan`);
    const quoted = (names: string) => `['"\`](${names})['"\`]`;
    const pattern = new RegExp(
      [
        quoted(alternatives(workflowTypes)),
        `\\.(query|signal|executeUpdate|startUpdate)\\s*(<[^>]*>)?\\(\\s*${quoted(alternatives(messageNames))}`,
        'define(Query|Signal|Update)\\s*[<(]',
        `['"]${PROGRESS_SIGNAL}['"]`,
      ].join('|'),
    );
    const hits = await findInSources('.', files, pattern);
    for (const [file, count] of PENDING_STRING_NAMES)
      t.diagnostic(`pending: ${file} keeps ${count} string name(s) until its owner moves it onto the contracts`);
    assert.deepEqual(unexpectedHits(hits, PENDING_STRING_NAMES), []);
  });

  it('leave no workflow or schedule id built inline outside temporal/contracts/', async () => {
    const files = (await sourceFiles('.', PRODUCTION_DIRS)).filter((f) => !f.startsWith('temporal/contracts/'));
    // `backup/${db}/…`, 'verify/' + db, `wal/${db}`: the id prefixes the contracts own.
    const prefixes = 'backup|restore|verify|health|notify|wal|walchain|basebackup|retention|replicate|watchdog|server';
    const pattern = new RegExp(`['"\`](${prefixes})/(\\$\\{|scheduled|['"\`]\\s*\\+)`);
    assert.match('workflowId: `verify/${database}`', pattern, 'the scan sees an inline id');
    assert.deepEqual(
      (await findInSources('.', files, pattern)).map((h) => `${h.file}:${h.line}: ${h.text}`),
      [],
    );
  });

  it('see a string name in code but not in prose', () => {
    const line = withoutComments("await client.workflow.start('backupDatabase', options); // 'pitrRestore'");
    assert.match(line, new RegExp(`['"\`](${alternatives(workflowTypes)})['"\`]`));
    assert.doesNotMatch(withoutComments("/** starts 'pitrRestore' */"), /pitrRestore/);
  });
});

describe('the name rule', () => {
  it('accepts the names Hindsight gives and refuses what cannot be a key prefix or workflow id', () => {
    for (const ok of ['shop', 'a', 'shop_2-eu', 'x'.repeat(63), '0day']) assert.ok(NAME_PATTERN.test(ok), ok);
    for (const bad of ['', 'Shop', '-shop', '_shop', 'x'.repeat(64), 'a/b', 'a.b', 'a b', '../x'])
      assert.ok(!NAME_PATTERN.test(bad), bad);
    assert.equal(nameSchema('storage name is bad').safeParse('A').error?.issues[0]?.message, 'storage name is bad');
    assert.match(databaseNameSchema.safeParse(undefined).error?.issues[0]?.message ?? '', /database is required/);
  });

  it('is written once: lib/names.ts', async (t) => {
    const files = (await sourceFiles('.', PRODUCTION_DIRS)).filter((f) => f !== 'lib/names.ts');
    // The same rule in a regex literal, a string, or an HTML pattern attribute (with "-" escaped).
    const copy = /\[a-z0-9\]\[a-z0-9_\\?-\]\{'?\{?0,62\}/;
    assert.ok(copy.test(NAME_SOURCE), 'the search pattern finds the rule itself');
    const hits = await findInSources('.', files, copy);
    for (const [file] of PENDING_NAME_COPIES)
      t.diagnostic(`pending: ${file} keeps its copy of the name rule until its owner imports lib/names.ts`);
    assert.deepEqual(unexpectedHits(hits, PENDING_NAME_COPIES), []);
  });
});
