import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { connect, targetUrl, type PgTarget } from '../../lib/pg/connection.ts';
import { createConsoleServices } from '../../services/console.ts';
import { EncryptionCodec } from '../../temporal/codec.ts';
import { temporalCliPath } from '../../temporal/dev-server.ts';
import { startWebServer } from '../../web/server.ts';
import { freePort } from '../support/ports.ts';
import { createDatabase, startPlatform, type Platform } from '../support/platform.ts';

const run = promisify(execFile);

/** The history as JSON with every base64 field also shown decoded: payload data is base64 there. */
function withBase64Expanded(json: string): string {
  return JSON.stringify(JSON.parse(json), (_key, value: unknown) =>
    typeof value === 'string' && value.length % 4 === 0 && /^[A-Za-z0-9+/]+=*$/.test(value) ? `${value} ${Buffer.from(value, 'base64').toString('latin1')}` : value);
}

describe('payload encryption: what Temporal stores is ciphertext', () => {
  let platform: Platform;
  let source: PgTarget;
  const secrets: Record<string, string> = {};
  const runs: string[] = [];

  async function show(workflowId: string, extra: string[] = []): Promise<string> {
    const { stdout } = await run(await temporalCliPath(), [
      'workflow', 'show', '--workflow-id', workflowId, '--address', platform.config.temporalAddress, '--namespace', 'default', '--output', 'json', ...extra,
    ], { maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  }

  before(async () => {
    platform = await startPlatform();
    source = await createDatabase(platform.cluster, 'payroll_eu');
    const client = await connect('payroll_eu', source);
    await client.query('create table salaries (id int primary key, amount int); insert into salaries select g, g from generate_series(1, 100) g');
    await client.end();
    await platform.startWorker();
    await platform.ops.addDatabase({ name: 'payroll-eu', url: targetUrl(source), verifyAfterBackup: false });
    secrets.database = 'payroll_eu';
    secrets.password = source.password ?? '';
    secrets.storagePath = platform.backupsDir;
    secrets.secretKey = platform.runtime.key.bytes.toString('hex');
  });

  after(async () => {
    await platform?.stop();
  });

  it('a backup and a restore to a URL with a password leave no plaintext name, URL, password or storage path in their histories', async () => {
    const backup = await platform.ops.startBackup('payroll-eu');
    const outcome = await backup.result();
    assert.equal(outcome.status, 'complete', 'the worker and the client agree on the codec');
    const url = `postgres://${encodeURIComponent(source.user)}:${encodeURIComponent(source.password ?? '')}@${source.host}:${source.port}/payroll_eu_copy`;
    const restore = await platform.ops.startRestore({ database: 'payroll-eu', backupId: outcome.backupId, to: { url } });
    const restored = await restore.result();
    assert.equal(restored.rowsChecked, 100);
    runs.push(backup.workflowId, restore.workflowId);
    for (const workflowId of runs) {
      const history = await show(workflowId);
      assert.ok(history.includes('binary/encrypted') || history.includes(Buffer.from('binary/encrypted').toString('base64')), 'payloads are marked encrypted');
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
    const token = randomBytes(16).toString('hex');
    const uiOrigin = 'http://127.0.0.1:8233';
    const server = await startWebServer({
      services: createConsoleServices(platform.runtime, platform.ops),
      codec: { codec: new EncryptionCodec(platform.runtime.key), token, corsOrigin: uiOrigin },
      host: '127.0.0.1', port: await freePort(), log: () => undefined,
    });
    try {
      const restoreRun = runs[1]!;
      const decoded = await show(restoreRun, ['--codec-endpoint', `${server.url}/codec`, '--codec-auth', `Bearer ${token}`]);
      assert.match(withBase64Expanded(decoded), /payroll_eu_copy/, 'an operator with the token reads the restore target');
      await assert.rejects(show(restoreRun, ['--codec-endpoint', `${server.url}/codec`, '--codec-auth', 'Bearer wrong']), /401|Unauthorized|codec/i);

      const preflight = (origin: string) => fetch(`${server.url}/codec/decode`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST' } });
      const allowed = await preflight(uiOrigin);
      assert.equal(allowed.status, 204);
      assert.equal(allowed.headers.get('access-control-allow-origin'), uiOrigin);
      const foreign = await preflight('https://evil.example');
      assert.equal(foreign.status, 403);
      assert.equal(foreign.headers.get('access-control-allow-origin'), null);

      // A browser unlocks once with the token; the Temporal UI's decode requests then carry the cookie.
      const session = (value: string) => fetch(`${server.url}/codec/session`, { method: 'POST', body: new URLSearchParams({ token: value }), redirect: 'manual' });
      assert.equal((await session('wrong')).status, 401);
      const unlocked = await session(token);
      assert.equal(unlocked.status, 200);
      const cookie = unlocked.headers.get('set-cookie') ?? '';
      assert.match(cookie, /hindsight_codec=.*HttpOnly/i);
      const [sealed] = await new EncryptionCodec(platform.runtime.key).encode([{ metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from('"payroll_eu_copy"') }]);
      const wire = { payloads: [{ metadata: Object.fromEntries(Object.entries(sealed!.metadata!).map(([k, v]) => [k, Buffer.from(v!).toString('base64')])), data: Buffer.from(sealed!.data!).toString('base64') }] };
      const decode = (headers: Record<string, string>) => fetch(`${server.url}/codec/decode`, { method: 'POST', body: JSON.stringify(wire), headers: { 'content-type': 'application/json', origin: uiOrigin, ...headers } });
      assert.equal((await decode({})).status, 401, 'no cookie, no token: refused');
      const viaCookie = await decode({ cookie: cookie.split(';')[0]! });
      assert.equal(viaCookie.status, 200);
      assert.equal(viaCookie.headers.get('access-control-allow-origin'), uiOrigin);
      const body = await viaCookie.json() as { payloads: Array<{ data: string }> };
      assert.equal(Buffer.from(body.payloads[0]!.data, 'base64').toString(), '"payroll_eu_copy"');
    } finally {
      await server.close();
    }
  });

  it('hindsight doctor names what works and what does not, and fails when something does not', async () => {
    const doctor = () => run(process.execPath, [path.resolve('bin/hindsight.mjs'), 'doctor', '--json'], { env: { ...process.env, ...platform.configEnv } })
      .then((r) => ({ code: 0, checks: JSON.parse(r.stdout) as Array<{ name: string; status: string; detail: string }> }))
      .catch((error: { code: number; stdout: string }) => ({ code: error.code, checks: JSON.parse(error.stdout) as Array<{ name: string; status: string; detail: string }> }));
    const healthy = await doctor();
    const byName = new Map(healthy.checks.map((c) => [c.name, c]));
    assert.equal(healthy.code, 0, JSON.stringify(healthy.checks, null, 2));
    for (const name of ['secret key', 'catalog', 'temporal', 'pg_dump', 'storage local', 'database payroll-eu', 'sandbox root']) {
      assert.equal(byName.get(name)?.status, 'ok', `${name}: ${JSON.stringify(byName.get(name))}`);
    }
    assert.equal(byName.get(`workers on ${platform.config.taskQueue}`)?.status, 'ok', 'the in-process worker polls');

    // A storage whose endpoint is down: saved without its test, then named by the doctor.
    await platform.ops.saveStorage('offline', { type: 's3', bucket: 'b', endpoint: `http://127.0.0.1:${await freePort()}`, forcePathStyle: true, accessKeyId: 'a', secretAccessKey: 'never-printed-secret' }, { skipCheck: true });
    const sick = await doctor();
    assert.equal(sick.code, 1);
    const offline = sick.checks.find((c) => c.name === 'storage offline');
    assert.equal(offline?.status, 'fail');
    assert.match(offline?.detail ?? '', /failed at write: .*unreachable|ECONNREFUSED|connect/i);
    assert.ok(!JSON.stringify(sick.checks).includes('never-printed-secret'), 'no secret in the report');
    await platform.runtime.catalog.removeStorage('offline');
  });
});
