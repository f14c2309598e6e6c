import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { targetUrl, type PgTarget } from '../../lib/pg/connection.ts';
import { operatorActor } from '../../services/authz.ts';
import { actorOps } from '../support/actor-ops.ts';
import { callApi, loginCookie } from '../support/api-v1-client.ts';
import { CONSOLE_OWNER, startSignedInConsole, type SignedInConsole } from '../support/console.ts';
import type { Platform } from '../support/platform.ts';
import { itemsTable, startSeededPlatform } from '../support/seeded-platform.ts';

/**
 * /api/v1 fuzzed from its own OpenAPI document by Schemathesis, with an owner's API token, against a
 * running instance (real catalog, Temporal and worker): no answer is a 5xx, every answer matches the
 * documented status codes, content type and schema (every 4xx in the error shape), and a refused
 * request changes no configuration or identity in the catalog (test/faults/api_fuzz_hooks.py).
 * Bounded by HINDSIGHT_FUZZ_EXAMPLES cases per operation (default 25) and a fixed seed, so a failure
 * replays; HINDSIGHT_FUZZ_SEED picks another.
 */

const st = path.resolve('.venv-fuzz/bin/st');
const EXAMPLES = Number.parseInt(process.env.HINDSIGHT_FUZZ_EXAMPLES ?? '25', 10);
const SEED = process.env.HINDSIGHT_FUZZ_SEED ?? '20261207';

/**
 * The tables a request can configure or that decide who may do what, each with the columns work in
 * the background moves (last use, probes, heartbeats) left out. Backups, WAL, verifications, health
 * and notifications are not here: a backup an accepted request started may finish between any two
 * later calls, so those tables change without any refused request touching them.
 */
const FINGERPRINTED: Record<string, string[]> = {
  workspaces: [],
  users: [],
  memberships: [],
  api_tokens: ['last_used_at'],
  storages: [],
  databases: ['updated_at'],
  database_storages: [],
  database_notifiers: [],
  notifiers: [],
  hooks: [],
  servers: ['last_run', 'last_run_at', 'updated_at'],
};

async function fingerprint(catalog: pg.Pool): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [table, volatile] of Object.entries(FINGERPRINTED)) {
    const { rows } = await catalog.query<{ digest: string }>(
      `select md5(coalesce(string_agg(r::text, '|' order by r::text), '')) as digest
         from (select to_jsonb(t) - $1::text[] as r from ${table} t) rows`,
      [volatile],
    );
    out[table] = rows[0]!.digest;
  }
  return out;
}

/** Serves the fingerprint to the hooks over HTTP on localhost, counting the calls made. */
async function fingerprintServer(catalog: pg.Pool): Promise<{ url: string; calls: () => number; server: Server }> {
  let calls = 0;
  const server = createServer((_req, res) => {
    calls += 1;
    fingerprint(catalog).then(
      (body) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body)),
      (error: unknown) => res.writeHead(500).end(String(error)),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/`, calls: () => calls, server };
}

function runSchemathesis(args: string[], env: Record<string, string>): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(st, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code: code ?? 1, output }));
  });
}

describe('/api/v1 fuzzed from its OpenAPI document: no 5xx, answers as documented, refusals change nothing', () => {
  let platform: Platform;
  let consoleApp: SignedInConsole;
  let source: PgTarget;
  let catalog: pg.Pool;
  let token: string;

  before(async () => {
    assert.ok(existsSync(st), `${st} is missing: run bash scripts/setup-fuzz.sh (npm run test:faults does)`);
    ({ platform, source } = await startSeededPlatform('shop', itemsTable(200)));
    consoleApp = await startSignedInConsole(platform);
    await actorOps(platform.services, operatorActor('test')).addDatabase({
      name: 'shop',
      url: targetUrl(source),
      storages: 'local',
      verifyAfterBackup: false,
    });
    catalog = new pg.Pool({ connectionString: platform.configEnv.DATABASE_URL, max: 2 });
    const cookie = await loginCookie(consoleApp.url, CONSOLE_OWNER.email);
    const created = await callApi(
      consoleApp.url,
      'POST',
      '/tokens',
      { cookie },
      {
        name: 'fuzz',
        workspace: 'default',
        role: 'owner',
      },
    );
    assert.equal(created.status, 201, created.text);
    token = String(created.body.secret);
    assert.match(token, /^hs_/);
  });

  after(async () => {
    await catalog?.end();
    await consoleApp?.close();
    await platform?.stop();
  });

  it('the fingerprint sees a change in a configuration table', async () => {
    const first = await fingerprint(catalog);
    const { rows } = await catalog.query<{ schedule: string | null }>(
      "select schedule from databases where name = 'shop'",
    );
    await catalog.query("update databases set schedule = '7 7 * * *' where name = 'shop'");
    const second = await fingerprint(catalog);
    await catalog.query("update databases set schedule = $1 where name = 'shop'", [rows[0]!.schedule]);
    assert.notEqual(first.databases, second.databases);
    assert.deepEqual(await fingerprint(catalog), first);
  });

  it('passes every check over every operation', { timeout: 20 * 60_000 }, async () => {
    const prints = await fingerprintServer(catalog);
    try {
      const { code, output } = await runSchemathesis(
        [
          'run',
          `${consoleApp.url}/api/v1/openapi.json`,
          '--header',
          `Authorization: Bearer ${token}`,
          '--checks',
          'not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,refused_request_changes_nothing',
          '--max-examples',
          String(EXAMPLES),
          '--seed',
          SEED,
          '--workers',
          '1',
          '--phases',
          'examples,coverage,fuzzing',
          '--request-timeout',
          '60',
          // Nothing carried between runs: the seed alone decides what is sent.
          '--generation-database',
          'none',
          '--no-color',
          '--output-sanitize',
          'true',
        ],
        {
          SCHEMATHESIS_HOOKS: 'api_fuzz_hooks',
          PYTHONPATH: path.resolve('test/faults'),
          HINDSIGHT_FUZZ_FINGERPRINT_URL: prints.url,
        },
      );
      process.stdout.write(output.split('\n').slice(-40).join('\n'));
      assert.equal(code, 0, `Schemathesis found failures:\n${output.slice(-20_000)}`);
      // Each call first takes a fingerprint: a run that sent (almost) nothing proves nothing.
      assert.ok(prints.calls() >= 100, `only ${prints.calls()} calls were made`);
    } finally {
      prints.server.close();
    }
  });
});
