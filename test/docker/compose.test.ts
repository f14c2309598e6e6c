/**
 * The container path, for real: builds the images on the local Docker engine, starts
 * docker/compose.yaml under its own project name with a source PostgreSQL beside it, then backs
 * the source up, verifies the backup in a sandbox, restores it into another database and compares
 * every table, all through the `hindsight` command inside the console's container. Prints the image
 * sizes and how long the stack takes to start. Everything is torn down (`down -v`) at the end,
 * whatever failed.
 *
 *   npm run test:docker       (as root: scripts/docker/engine.sh may install and start the engine)
 *
 * HINDSIGHT_DOCKER_TEST_PROJECT names the compose project (default hindsight-dockertest);
 * HINDSIGHT_SANDBOX_DRIVER=process runs the verification sandbox in the worker's container instead
 * of a sibling container.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '../support/wait.ts';
import { imageSize, prepareStack, repoRoot, sh, SOURCE_PASSWORD, tableHashes, type Stack } from './stack.ts';

const project = process.env.HINDSIGHT_DOCKER_TEST_PROJECT ?? 'hindsight-dockertest';
const TEMPORAL_IMAGE = 'hindsight-temporal:1.29.1';
const SANDBOX_IMAGES_SCRIPT = path.join(repoRoot, 'scripts/docker/sandbox-images.sh');
const SOURCE_MAJOR = 15;

/** docker, unless asked otherwise or the sandbox images cannot be built here. */
function sandboxDriver(): string {
  const asked = process.env.HINDSIGHT_SANDBOX_DRIVER;
  if (asked) return asked;
  if (existsSync(SANDBOX_IMAGES_SCRIPT)) return 'docker';
  console.log(
    `# sandbox driver: process (no ${path.relative(repoRoot, SANDBOX_IMAGES_SCRIPT)} to build the Docker sandbox images)`,
  );
  return 'process';
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(0)} MB`;

/** The `hindsight` command in the console's container, with --json. */
async function hindsight<T>(stack: Stack, args: string[], timeoutMs = 300_000): Promise<T> {
  const out = await stack.exec('hindsight-web', ['node', 'bin/hindsight.mjs', ...args, '--json'], timeoutMs);
  try {
    return JSON.parse(out) as T;
  } catch {
    throw new Error(`hindsight ${args.join(' ')} printed no JSON: ${out.slice(0, 500)}`);
  }
}

describe('docker/compose.yaml: built and run on the local engine', { timeout: 1_800_000 }, () => {
  let stack: Stack | undefined;
  let backupId: string;

  before(async () => {
    const engine = Date.now();
    await sh('bash', ['scripts/docker/engine.sh'], { timeoutMs: 900_000 });
    const build = Date.now();
    await sh('bash', ['scripts/docker/build-images.sh'], { timeoutMs: 1_800_000 });
    const driver = sandboxDriver();
    if (driver === 'docker') await sh('bash', [SANDBOX_IMAGES_SCRIPT, String(SOURCE_MAJOR)], { timeoutMs: 900_000 });
    console.log(`# engine ready in ${seconds(build - engine)}, images built in ${seconds(Date.now() - build)}`);
    for (const tag of ['hindsight:local', TEMPORAL_IMAGE, 'hindsight-postgres:15', 'hindsight-base:bookworm']) {
      console.log(`# image ${tag}: ${mb(await imageSize(tag))}`);
    }

    stack = await prepareStack({ project, sandboxDriver: driver, sandboxNetwork: `${project}-sandbox` });
    // Leftovers of an earlier run that was killed before its own teardown.
    await stack.compose(['down', '--volumes', '--remove-orphans', '--timeout', '5'], 180_000);
    const up = Date.now();
    await stack.compose(['up', '--detach', '--no-build'], 600_000);
    const live = stack;
    await waitFor(
      'the console to answer over HTTP',
      async () => {
        const res = await fetch(`${live.webUrl}/healthz`).catch(() => undefined);
        return res?.ok ? true : undefined;
      },
      300_000,
      500,
    );
    const consoleMs = Date.now() - up;
    await waitFor(
      'the worker to poll its task queue',
      async () => {
        const checks = await hindsight<Array<{ name: string; status: string }>>(live, ['doctor']).catch(() => []);
        return checks.some((c) => c.name.startsWith('workers on') && c.status === 'ok') ? true : undefined;
      },
      300_000,
      1000,
    );
    console.log(
      `# compose up: console answers after ${seconds(consoleMs)}, worker polls after ${seconds(Date.now() - up)} (sandbox driver: ${driver})`,
    );
  });

  after(async () => {
    if (!stack) return;
    if (process.env.HINDSIGHT_DOCKER_TEST_KEEP)
      return void console.log(`# kept project ${stack.project} (${stack.dir})`);
    await stack.compose(['logs', '--no-color', '--tail', '30', 'hindsight-worker']).then(
      (logs) => console.log(logs.replace(/^/gm, '# ')),
      () => undefined,
    );
    await stack.down();
  });

  it('answers over HTTP: health, the console page, and /api/v1 refusing an anonymous caller', async () => {
    const health = await fetch(`${stack!.webUrl}/healthz`);
    assert.equal(health.status, 200);
    const page = await fetch(`${stack!.webUrl}/`, { redirect: 'manual' });
    assert.ok([200, 302, 303].includes(page.status), `GET / answered ${page.status}`);
    const api = await fetch(`${stack!.webUrl}/api/v1/databases`);
    assert.equal(api.status, 401, `GET /api/v1/databases without a token answered ${api.status}`);
  });

  it('registers the source database and backs it up', async () => {
    await hindsight(stack!, [
      'storage',
      'add',
      'local',
      '--type',
      'local',
      '--path',
      '/var/lib/hindsight/storages/default/local',
    ]);
    await hindsight(stack!, [
      'db',
      'add',
      'shop',
      '--url',
      `postgres://postgres:${SOURCE_PASSWORD}@source-db:5432/shop`,
      '--storage',
      'local',
    ]);
    const outcome = await hindsight<{ backupId: string; status: string; tables: number; rows: number }>(
      stack!,
      ['backup', 'shop', '--wait'],
      600_000,
    );
    assert.equal(outcome.status, 'complete', JSON.stringify(outcome));
    assert.deepEqual([outcome.tables, outcome.rows], [3, 35_000], JSON.stringify(outcome));
    backupId = outcome.backupId;
    const backups = await hindsight<Array<{ id: string; status: string }>>(stack!, ['backups', 'shop']);
    assert.ok(
      backups.some((b) => b.id === backupId),
      JSON.stringify(backups),
    );
  });

  it('verifies the backup in a sandbox', async () => {
    type Verification = {
      status: string;
      report: { sandbox: { driver: string; major: number }; mismatches: number; restoredRows: number };
    };
    const outcome = await hindsight<Verification>(stack!, ['verify', 'shop', '--backup', backupId, '--wait'], 600_000);
    assert.equal(outcome.status, 'successful', JSON.stringify(outcome));
    assert.deepEqual(outcome.report.sandbox.driver, stack!.sandboxDriver);
    assert.equal(outcome.report.sandbox.major, SOURCE_MAJOR);
    assert.deepEqual([outcome.report.mismatches, outcome.report.restoredRows], [0, 35_000]);
  });

  it('restores it into another database, every table equal row for row', async () => {
    const outcome = await hindsight<{ tablesChecked: number; rowsChecked: number; target: string }>(
      stack!,
      ['restore', 'shop', '--backup', backupId, '--to-database', 'shop_restored', '--wait'],
      600_000,
    );
    assert.deepEqual([outcome.tablesChecked, outcome.rowsChecked], [3, 35_000], JSON.stringify(outcome));
    assert.match(outcome.target, /@source-db:5432\/shop_restored$/);
    const source = await tableHashes(stack!, 'shop');
    assert.deepEqual(Object.keys(source), ['public.customers', 'public.events', 'public.orders']);
    assert.deepEqual(await tableHashes(stack!, 'shop_restored'), source);
  });
});
