import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { WorkflowFailedError } from '@temporalio/client';
import { connect, targetUrl, type PgTarget } from '../../lib/pg/connection.ts';
import { createConsoleServices } from '../../web/src/lib/server/view/index.ts';
import { EncryptionCodec } from '../../temporal/codec.ts';
import * as delivery from '../../temporal/contracts/notifications.ts';
import type { RestoreOutcome } from '../../temporal/contracts/restore.ts';
import { startWebServer, type WebServer } from '../../web/server.ts';
import { freePort } from '../support/ports.ts';
import type { Platform } from '../support/platform.ts';
import { startSeededPlatform } from '../support/seeded-platform.ts';
import { TemporalCli, withBase64Expanded, type CodecChoice, type HistoryEvent } from '../support/temporal-cli.ts';

const run = promisify(execFile);

describe('payload encryption: what Temporal stores is ciphertext', () => {
  let platform: Platform;
  let source: PgTarget;
  let server: WebServer;
  const token = randomBytes(16).toString('hex');
  const uiOrigin = 'http://127.0.0.1:8233';
  const secrets: Record<string, string> = {};
  const runs: string[] = [];
  const serverLog: string[] = [];

  let cli: TemporalCli;
  const temporal = (args: string[], options: CodecChoice = {}) => cli.run(args, options);
  const show = (workflowId: string, extra: string[] = [], options: CodecChoice = {}) =>
    cli.show(workflowId, extra, options);
  const startFromCli = (type: string, workflowId: string, input: unknown, options: CodecChoice = {}) =>
    cli.start(type, workflowId, input, options);
  const eventsWhen = (workflowId: string, done: (events: HistoryEvent[]) => boolean) =>
    cli.eventsWhen(workflowId, done);

  async function databaseExists(name: string): Promise<boolean> {
    const client = await connect('test server', platform.cluster.target('postgres'));
    try {
      return (await client.query('select 1 from pg_database where datname = $1', [name])).rowCount === 1;
    } finally {
      await client.end();
    }
  }

  before(async () => {
    const salaries =
      'create table salaries (id int primary key, amount int); insert into salaries select g, g from generate_series(1, 100) g';
    ({ platform, source } = await startSeededPlatform('payroll_eu', salaries));
    await platform.ops.addDatabase({ name: 'payroll-eu', url: targetUrl(source), verifyAfterBackup: false });
    secrets.database = 'payroll_eu';
    secrets.password = source.password ?? '';
    secrets.storagePath = platform.backupsDir;
    secrets.secretKey = platform.runtime.key.bytes.toString('hex');
    // As web/main.ts builds it: the endpoint decodes plaintext too, so an operator sees what a refused run was given.
    server = await startWebServer({
      services: createConsoleServices(platform.services),
      codec: {
        codec: new EncryptionCodec(platform.runtime.key, [], { plaintext: 'pass' }),
        token,
        corsOrigin: uiOrigin,
      },
      host: '127.0.0.1',
      port: await freePort(),
      log: (line) => serverLog.push(line),
    });
    cli = new TemporalCli({
      address: platform.config.temporalAddress,
      taskQueue: platform.config.taskQueue,
      codecEndpoint: `${server.url}/codec`,
      token,
    });
  });

  after(async () => {
    await server?.close();
    await platform?.stop();
  });

  it('a backup and a restore to a URL with a password leave no plaintext name, URL, password or storage path in their histories', async () => {
    const backup = await platform.ops.startBackup('payroll-eu');
    const outcome = await backup.result();
    assert.equal(outcome.status, 'complete', 'the worker and the client agree on the codec');
    const url = `postgres://${encodeURIComponent(source.user)}:${encodeURIComponent(source.password ?? '')}@${source.host}:${source.port}/payroll_eu_copy`;
    const restore = await platform.ops.startRestore({
      database: 'payroll-eu',
      backupId: outcome.backupId,
      to: { url },
    });
    const restored = await restore.result();
    assert.equal(restored.rowsChecked, 100);
    runs.push(backup.workflowId, restore.workflowId);
    for (const workflowId of runs) {
      const history = await show(workflowId);
      assert.ok(
        history.includes('binary/encrypted') || history.includes(Buffer.from('binary/encrypted').toString('base64')),
        'payloads are marked encrypted',
      );
      const decoded = withBase64Expanded(history);
      for (const [what, value] of Object.entries(secrets)) {
        if (!value) continue;
        assert.ok(!history.includes(value), `${what} appears in plaintext in the history of ${workflowId}`);
        assert.ok(!decoded.includes(value), `${what} appears base64-encoded in the history of ${workflowId}`);
      }
      assert.ok(!decoded.includes('payroll_eu_copy'), 'the restore target URL stays hidden');
    }
  });

  it('the codec endpoint decodes for the temporal CLI when given the token, and refuses without it', async () => {
    const restoreRun = runs[1]!;
    const decoded = await show(restoreRun, [], { codec: true });
    assert.match(withBase64Expanded(decoded), /payroll_eu_copy/, 'an operator with the token reads the restore target');
    await assert.rejects(
      show(restoreRun, ['--codec-endpoint', `${server.url}/codec`, '--codec-auth', 'Bearer wrong']),
      /401|Unauthorized|codec/i,
    );

    const preflight = (origin: string) =>
      fetch(`${server.url}/codec/decode`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST' },
      });
    const allowed = await preflight(uiOrigin);
    assert.equal(allowed.status, 204);
    assert.equal(allowed.headers.get('access-control-allow-origin'), uiOrigin);
    const foreign = await preflight('https://evil.example');
    assert.equal(foreign.status, 403);
    assert.equal(foreign.headers.get('access-control-allow-origin'), null);

    // A browser unlocks once with the token; the Temporal UI's decode requests then carry the cookie.
    const session = (value: string) =>
      fetch(`${server.url}/codec/session`, {
        method: 'POST',
        body: new URLSearchParams({ token: value }),
        redirect: 'manual',
      });
    assert.equal((await session('wrong')).status, 401);
    const unlocked = await session(token);
    assert.equal(unlocked.status, 200);
    const cookie = unlocked.headers.get('set-cookie') ?? '';
    assert.match(cookie, /hindsight_codec=.*HttpOnly/i);
    const [sealed] = await new EncryptionCodec(platform.runtime.key).encode([
      { metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from('"payroll_eu_copy"') },
    ]);
    const wire = {
      payloads: [
        {
          metadata: Object.fromEntries(
            Object.entries(sealed!.metadata!).map(([k, v]) => [k, Buffer.from(v!).toString('base64')]),
          ),
          data: Buffer.from(sealed!.data!).toString('base64'),
        },
      ],
    };
    const decode = (headers: Record<string, string>) =>
      fetch(`${server.url}/codec/decode`, {
        method: 'POST',
        body: JSON.stringify(wire),
        headers: { 'content-type': 'application/json', origin: uiOrigin, ...headers },
      });
    assert.equal((await decode({})).status, 401, 'no cookie, no token: refused');
    const viaCookie = await decode({ cookie: cookie.split(';')[0]! });
    assert.equal(viaCookie.status, 200);
    assert.equal(viaCookie.headers.get('access-control-allow-origin'), uiOrigin);
    const body = (await viaCookie.json()) as { payloads: Array<{ data: string }> };
    assert.equal(Buffer.from(body.payloads[0]!.data, 'base64').toString(), '"payroll_eu_copy"');
  });

  it('a plaintext `temporal workflow start --type restoreBackup` is refused with the reason in clear, and nothing is restored', async () => {
    const workflowId = 'restore/payroll-eu/plaintext-from-cli';
    await startFromCli('restoreBackup', workflowId, { database: 'payroll-eu', to: { database: 'payroll_eu_plain' } });
    const events = await eventsWhen(workflowId, (all) =>
      all.some((e) => /WORKFLOW_TASK_FAILED|WorkflowTaskFailed/.test(e.eventType)),
    );
    const failed = events.find((e) => /WORKFLOW_TASK_FAILED|WorkflowTaskFailed/.test(e.eventType))!;
    assert.match(
      failed.workflowTaskFailedEventAttributes?.failure?.message ?? '',
      /workflow input is not encrypted with this installation's key.*--codec-endpoint .*--codec-auth 'Bearer/,
    );
    // Give a wrongly accepted run time to reach its first activity before looking for one.
    await new Promise((r) => setTimeout(r, 2000));
    const after = JSON.parse(await show(workflowId)) as { events: HistoryEvent[] };
    assert.deepEqual(
      after.events.filter((e) => /ACTIVITY|Activity/.test(e.eventType)).map((e) => e.eventType),
      [],
      'no activity was scheduled',
    );
    assert.equal(await databaseExists('payroll_eu_plain'), false, 'no restore target was created');
    const described = await temporal(['workflow', 'describe', '--workflow-id', workflowId, '--output', 'json']);
    assert.match(
      described,
      /WORKFLOW_EXECUTION_STATUS_RUNNING|Running/,
      'the run waits, refused, until someone terminates it',
    );
    await temporal(['workflow', 'terminate', '--workflow-id', workflowId, '--reason', 'input not encrypted']);

    // A plaintext query argument is refused the same way, even to a run that has finished.
    await assert.rejects(
      temporal(['workflow', 'query', '--workflow-id', runs[1]!, '--type', 'progress', '--input', '"x"']),
      /not encrypted with this installation's key/,
    );
  });

  it('the same start through the codec endpoint and the token (TEMPORAL_CODEC_ENDPOINT, TEMPORAL_CODEC_AUTH) runs: the backup is restored', async () => {
    const workflowId = 'restore/payroll-eu/from-cli-with-codec';
    await startFromCli(
      'restoreBackup',
      workflowId,
      { database: 'payroll-eu', to: { database: 'payroll_eu_cli' } },
      { codec: 'env' },
    );
    assert.ok(
      serverLog.some((line) => /^codec: encrypted \d+ payload\(s\) for /.test(line)),
      `the encryption is on record: ${serverLog.join(' | ')}`,
    );
    assert.ok(!serverLog.join('\n').includes('payroll_eu_cli'), 'the record holds no payload');
    const outcome = (await platform.client.workflow.getHandle(workflowId).result()) as RestoreOutcome;
    assert.equal(outcome.rowsChecked, 100);
    const restored = await connect('payroll_eu_cli', platform.cluster.target('payroll_eu_cli'));
    try {
      assert.equal((await restored.query<{ n: string }>('select count(*)::text as n from salaries')).rows[0]!.n, '100');
    } finally {
      await restored.end();
    }
    assert.ok(
      !withBase64Expanded(await show(workflowId)).includes('payroll_eu_cli'),
      "the CLI's input went into history encrypted",
    );
    // What docs/temporal.md tells operators to do is what this test just did.
    const doc = await readFile('docs/temporal.md', 'utf8');
    assert.match(
      doc,
      /export TEMPORAL_CODEC_ENDPOINT=http:\/\/\S+\/codec TEMPORAL_CODEC_AUTH="Bearer /,
      'docs/temporal.md sets the codec endpoint and token once in the environment',
    );
    assert.match(
      doc,
      /--type restoreBackup [^\n]*--input '\{"database":"demo","to":\{"database":"demo_restored"\}\}'/,
      'docs/temporal.md shows this restore',
    );
    assert.match(
      doc,
      /workflow input is not encrypted with this installation's key/,
      'docs/temporal.md quotes the refusal a plaintext start gets',
    );
  });

  it("a failure's message is encrypted in history: readable with the codec, not without it", async () => {
    const workflowId = 'restore/payroll-eu/missing-backup';
    const missing = '20991231T235959Z-0badf0';
    await startFromCli(
      'restoreBackup',
      workflowId,
      { database: 'payroll-eu', backupId: missing, to: { database: 'payroll_eu_never' } },
      { codec: true },
    );
    await assert.rejects(platform.client.workflow.getHandle(workflowId).result(), (error: unknown) => {
      assert.ok(error instanceof WorkflowFailedError);
      assert.match(
        String(error.cause?.message),
        new RegExp(`restore of a backup .*failed: .*${missing}`),
        'the workflow ran and failed for its own reason',
      );
      return true;
    });
    const raw = await show(workflowId);
    assert.ok(raw.includes('Encoded failure'), 'the failure is marked encoded');
    assert.ok(!withBase64Expanded(raw).includes(missing), 'the failure message is not readable without the key');
    // A Temporal client without the codec: whatever it makes of the failure, the message is not in it.
    const rawClient = await platform.env.client.workflow
      .getHandle(workflowId)
      .result()
      .then(
        () => undefined,
        (error: unknown) => error as Error,
      );
    assert.ok(rawClient instanceof Error, 'the run failed');
    const seen = [
      rawClient.message,
      rawClient.stack,
      (rawClient.cause as Error | undefined)?.message,
      (rawClient.cause as Error | undefined)?.stack,
    ].join('\n');
    assert.ok(!seen.includes(missing), `a client without the codec reads no message: ${seen.slice(0, 300)}`);
    assert.ok(
      withBase64Expanded(await show(workflowId, [], { codec: true })).includes(missing),
      'through the codec the message is there',
    );
  });

  it('hindsight doctor names what works and what does not, and fails when something does not', async () => {
    const doctor = () =>
      run(process.execPath, [path.resolve('bin/hindsight.mjs'), 'doctor', '--json'], {
        env: { ...process.env, ...platform.configEnv },
      })
        .then((r) => ({
          code: 0,
          checks: JSON.parse(r.stdout) as Array<{ name: string; status: string; detail: string }>,
        }))
        .catch((error: { code: number; stdout: string }) => ({
          code: error.code,
          checks: JSON.parse(error.stdout) as Array<{ name: string; status: string; detail: string }>,
        }));
    const healthy = await doctor();
    const byName = new Map(healthy.checks.map((c) => [c.name, c]));
    assert.equal(healthy.code, 0, JSON.stringify(healthy.checks, null, 2));
    for (const name of [
      'secret key',
      'catalog',
      'temporal',
      'pg_dump',
      'storage local',
      'database payroll-eu',
      'sandbox root',
    ]) {
      assert.equal(byName.get(name)?.status, 'ok', `${name}: ${JSON.stringify(byName.get(name))}`);
    }
    assert.equal(byName.get(`workers on ${platform.config.taskQueue}`)?.status, 'ok', 'the in-process worker polls');

    // A storage whose endpoint is down: saved without its test, then named by the doctor.
    await platform.ops.saveStorage(
      'offline',
      {
        type: 's3',
        bucket: 'b',
        endpoint: `http://127.0.0.1:${await freePort()}`,
        forcePathStyle: true,
        accessKeyId: 'a',
        secretAccessKey: 'never-printed-secret',
      },
      { skipCheck: true },
    );
    const sick = await doctor();
    assert.equal(sick.code, 1);
    const offline = sick.checks.find((c) => c.name === 'storage offline');
    assert.equal(offline?.status, 'fail');
    assert.match(offline?.detail ?? '', /failed at write: .*unreachable|ECONNREFUSED|connect/i);
    assert.ok(!JSON.stringify(sick.checks).includes('never-printed-secret'), 'no secret in the report');
    await platform.runtime.catalog.removeStorage('offline');
  });

  it('a plaintext signal to a running workflow stalls it with the refusal; a reset that leaves the signal out resumes it', async () => {
    // A long-lived workflow of the database's: its notification delivery loop.
    const workflowId = delivery.deliveryWorkflowId('payroll-eu');
    const start = {
      workflowId,
      taskQueue: platform.config.taskQueue,
      workflowIdConflictPolicy: 'USE_EXISTING' as const,
    };
    const args = [{ database: 'payroll-eu' }];
    await platform.client.workflow.start(delivery.deliverNotificationsWorkflow.type, { ...start, args });
    await platform.client.workflow.getHandle(workflowId).query(delivery.deliveryStateQuery); // its first task is done
    const isFailedTask = (e: HistoryEvent) => /WORKFLOW_TASK_FAILED/.test(e.eventType);
    const before = (JSON.parse(await show(workflowId)) as { events: HistoryEvent[] }).events;
    const resetPoint = before.filter((e) => /WORKFLOW_TASK_COMPLETED/.test(e.eventType)).at(-1)!;
    await temporal([
      'workflow',
      'signal',
      '--workflow-id',
      workflowId,
      '--name',
      'backupCompleted',
      '--input',
      '{"verificationId":"v-plain"}',
    ]);
    const events = await eventsWhen(workflowId, (all) =>
      all.some((e) => isFailedTask(e) && Number(e.eventId) > Number(resetPoint.eventId)),
    );
    assert.match(
      events.find(isFailedTask)?.workflowTaskFailedEventAttributes?.failure?.message ?? '',
      /not encrypted with this installation's key/,
    );

    // docs/deployment.md's remedy.
    await temporal([
      'workflow',
      'reset',
      '--workflow-id',
      workflowId,
      '--event-id',
      resetPoint.eventId,
      '--reason',
      'drop a plaintext signal',
      '--reapply-exclude',
      'Signal',
    ]);
    const state = await platform.client.workflow.getHandle(workflowId).query(delivery.deliveryStateQuery);
    assert.equal(typeof state, 'object', 'the new run answers its query');
    const refused = (e: HistoryEvent) =>
      isFailedTask(e) && /not encrypted/.test(e.workflowTaskFailedEventAttributes?.failure?.message ?? '');
    assert.ok(
      !(JSON.parse(await show(workflowId)) as { events: HistoryEvent[] }).events.some(refused),
      'and runs without a refused task',
    );
  });
});
