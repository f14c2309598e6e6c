/**
 * The Temporal UI of the dev server (started with `--ui-public-path /temporal`, as `npm start`
 * does) served by the console at /temporal/, in a real chromium: on the console's own origin the
 * UI's calls to /codec carry the console's session cookie, so a signed-in user who may read every
 * workspace reads decoded payloads with nothing to set in the UI. The route is read-only and
 * closed to anyone else; the codec endpoint still serves the UI's own port across origins.
 */ import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { targetUrl } from '../../lib/pg/connection.ts';
import { EncryptionCodec } from '../../temporal/codec.ts';
import { operatorActor } from '../../services/authz.ts';
import { createConsoleServices, type HostServices } from '../../web/src/lib/server/view/index.ts';
import { startWebServer, type WebServer } from '../../web/server.ts';
import type { Browser, BrowserContext } from 'playwright-core';
import { launchChromium } from '../support/browser.ts';
import { callCodecFromUi, signedInContext } from '../support/codec-browser.ts';
import { freePort } from '../support/ports.ts';
import type { Platform } from '../support/platform.ts';
import { startSeededPlatform } from '../support/seeded-platform.ts';
import { TemporalCli } from '../support/temporal-cli.ts';
import { addAccount } from '../support/accounts.ts';

interface StartedEvent {
  workflowExecutionStartedEventAttributes?: { input?: { payloads: unknown[] } };
}

const viewer = { email: 'codec-viewer@example.org', password: 'correct horse battery staple' };
const BANNER = 'Codec Server could not connect';

interface Fixture {
  platform: Platform;
  server: WebServer;
  services: HostServices;
  uiOrigin: string;
  cli: TemporalCli;
  backup: { workflowId: string; backupId: string; inputPayloads: unknown[] };
}

/** The fixture with a browser and a context signed in as the viewer. */
interface Session extends Fixture {
  browser: Browser;
  signedIn: BrowserContext;
}

/** A platform with one backup run of `ledger`, the console serving the UI and its codec endpoint, and a viewer of `default`. */
async function startFixture(): Promise<Fixture> {
  const [uiPort, webPort] = [await freePort(), await freePort()];
  // Relative, as `npm start` sets it: the UI then calls the codec on whatever origin it is served from.
  const temporalUi = { port: uiPort, codecEndpoint: '/codec' };
  const sql = 'create table entries (id int primary key)';
  const { platform, source } = await startSeededPlatform('ledger', sql, { temporalUi });
  await platform.ops.addDatabase({ name: 'ledger', url: targetUrl(source), verifyAfterBackup: false });
  const uiOrigin = `http://127.0.0.1:${uiPort}`;
  const services = createConsoleServices(platform.services);
  const token = randomBytes(16).toString('hex');
  const server = await startWebServer({
    services,
    codec: {
      codec: new EncryptionCodec(platform.runtime.key, [], { plaintext: 'pass' }),
      token,
      corsOrigin: uiOrigin,
    },
    host: '127.0.0.1',
    port: webPort,
    log: () => undefined,
  });
  const { temporalAddress: address, taskQueue } = platform.config;
  const cli = new TemporalCli({ address, taskQueue, codecEndpoint: `${server.url}/codec`, token });
  const run = await platform.ops.startBackup('ledger');
  const { backupId } = await run.result();
  const { events } = JSON.parse(await cli.show(run.workflowId)) as { events: StartedEvent[] };
  const inputPayloads = events[0]?.workflowExecutionStartedEventAttributes?.input?.payloads ?? [];
  assert.equal(inputPayloads.length, 1, 'the backup run has its input in history');
  await addAccount(services.access, operatorActor('test'), { ...viewer, workspace: 'default', role: 'viewer' });
  return { platform, server, services, uiOrigin, cli, backup: { workflowId: run.workflowId, backupId, inputPayloads } };
}

/** `fetch` from a console page of `context`, as the UI's own scripts would call the route. */
async function fetchFrom(context: BrowserContext, consoleUrl: string, url: string, method = 'GET') {
  const page = await context.newPage();
  try {
    // A console page: its policy lets scripts fetch from the console (the API's own answers allow nothing).
    await page.goto(`${consoleUrl}/login`);
    return await page.evaluate(
      async ({ url, method }) => {
        const response = await fetch(url, { method, headers: { 'Content-Type': 'application/json' }, body: null });
        return { status: response.status, body: await response.text(), cache: response.headers.get('cache-control') };
      },
      { url, method },
    );
  } finally {
    await page.close();
  }
}

/** The "Temporal UI" link in the console's header, as a signed-in user sees it (null: none). */
async function headerLink(context: BrowserContext, consoleUrl: string): Promise<string | null> {
  const page = await context.newPage();
  try {
    await page.goto(`${consoleUrl}/settings`, { waitUntil: 'networkidle' });
    const link = page.locator('header a', { hasText: 'Temporal UI' });
    return (await link.count()) === 0 ? null : await link.getAttribute('href');
  } finally {
    await page.close();
  }
}

/** A terminate through /temporal/ is refused with the ways to act; the run goes on; the UI offers no write. */
async function checkReadOnly({ server, cli, signedIn }: Session): Promise<void> {
  const workflowId = `codec-ui-idle-${randomBytes(4).toString('hex')}`;
  // A run on a queue no worker polls: it stays running until someone terminates it.
  await cli.run(['workflow', 'start', '--task-queue', 'codec-ui-idle', '--type', 'Idle', '--workflow-id', workflowId]);
  const url = `/temporal/api/v1/namespaces/default/workflows/${workflowId}/terminate`;
  const terminate = await fetchFrom(signedIn, server.url, url, 'POST');
  assert.equal(terminate.status, 403, terminate.body);
  assert.match(terminate.body, /read-only.*console.*hindsight.*--codec-endpoint.*--codec-auth/);
  const described = JSON.parse(await cli.run(['workflow', 'describe', '--workflow-id', workflowId, '-o', 'json']));
  assert.equal(described.workflowExecutionInfo.status, 'WORKFLOW_EXECUTION_STATUS_RUNNING', 'the run goes on');
  const settings = await fetchFrom(signedIn, server.url, '/temporal/api/v1/settings');
  assert.equal(JSON.parse(settings.body).DisableWriteActions, true, 'the UI offers no write action');
  assert.equal(settings.cache, 'no-store', 'API answers are not cached');
}

/** The codec from the UI's own port: decodes with the session, never encodes, never for a foreign origin. */
async function checkCodecAcrossOrigins({ server, uiOrigin, backup, signedIn }: Session): Promise<void> {
  const decode = `${server.url}/codec/decode`;
  const fromUiPort = await callCodecFromUi(signedIn, uiOrigin, decode, backup.inputPayloads);
  assert.equal(fromUiPort.status, 200, 'the UI on its own port decodes across origins with the session');
  const encode = await callCodecFromUi(signedIn, uiOrigin, `${server.url}/codec/encode`, backup.inputPayloads);
  assert.equal(encode.status, 403, 'a session decodes only: encoding, which starts work, needs the token');
  const cookie = (await signedIn.cookies(server.url)).map((c) => `${c.name}=${c.value}`).join('; ');
  const foreign = await fetch(decode, {
    method: 'POST',
    body: JSON.stringify({ payloads: backup.inputPayloads }),
    headers: { 'content-type': 'application/json', origin: 'https://evil.example', cookie },
  });
  assert.equal(foreign.status, 401, 'the session cookie counts only from the UI origins');
  assert.ok(!(await foreign.text()).includes('ledger'), 'and nothing decoded');
}

/** Once a second workspace exists, a viewer of `default` alone sees neither the UI, its link nor decoded payloads. */
async function checkPartialViewerRefused({ server, services, uiOrigin, backup, signedIn }: Session): Promise<void> {
  // Every workspace's runs share the namespace.
  await services.access.createWorkspace(operatorActor('test'), 'codec-blue');
  const page = await fetchFrom(signedIn, server.url, '/temporal/');
  assert.equal(page.status, 403, page.body);
  const api = await fetchFrom(signedIn, server.url, '/temporal/api/v1/namespaces/default/workflows');
  assert.equal(api.status, 403, api.body);
  assert.ok(!api.body.includes(backup.workflowId), 'and lists nothing');
  assert.equal(await headerLink(signedIn, server.url), null, 'and the header has no link to it');
  const partial = await callCodecFromUi(signedIn, uiOrigin, `${server.url}/codec/decode`, backup.inputPayloads);
  assert.equal(partial.status, 403, partial.body);
  assert.ok(!partial.body.includes('ledger'), 'and nothing decoded');
}

describe('the Temporal UI served by the console at /temporal/', () => {
  let f: Session;

  before(async () => {
    const fixture = await startFixture();
    const browser = await launchChromium();
    const signedIn = await signedInContext(browser, fixture.server.url, viewer.email, viewer.password);
    f = { ...fixture, browser, signedIn };
  });

  after(async () => {
    await f?.browser.close();
    await f?.server.close();
    await f?.platform.stop();
  });

  it("the temporal CLI prints a backup run's result in clear with --codec-endpoint and --codec-auth, as docs/temporal.md shows", async () => {
    const args = ['workflow', 'result', '--workflow-id', f.backup.workflowId, '--output', 'json'];
    const raw = await f.cli.run(args);
    assert.ok(!raw.includes(f.backup.backupId), 'without the codec the result is ciphertext');
    const readable = await f.cli.run(args, { codec: true });
    assert.ok(
      readable.includes(f.backup.backupId),
      `with the codec the result names the backup: ${readable.slice(0, 300)}`,
    );
    const doc = await readFile('docs/temporal.md', 'utf8');
    assert.match(doc, /workflow result --workflow-id \S+ --codec-endpoint http:\/\/\S+\/codec --codec-auth "Bearer /);
    assert.match(doc, /workflow show --workflow-id \S+ --codec-endpoint http:\/\/\S+\/codec --codec-auth "Bearer /);
  });

  it("shows a signed-in viewer a backup run's input and result decoded, with no codec banner, linked from the header", async () => {
    const { server, signedIn, backup } = f;
    assert.equal(await headerLink(signedIn, server.url), '/temporal/', 'the header links the console-served UI');
    const tab = await signedIn.newPage();
    const refused: string[] = [];
    tab.on('console', (m) => void (/Content Security Policy/i.test(m.text()) && refused.push(m.text())));
    try {
      await tab.goto(`${server.url}/temporal/namespaces/default/workflows/${encodeURIComponent(backup.workflowId)}`);
      await tab.getByText(backup.backupId).first().waitFor({ timeout: 30_000 });
      assert.match(await tab.innerText('body'), /"database": "ledger"/, 'the input reads in clear');
      assert.equal(await tab.getByText(BANNER).count(), 0, 'no element says the codec server could not connect');
      assert.deepEqual(refused, [], "the UI runs within the route's Content-Security-Policy");
    } finally {
      await tab.close();
    }
  });

  it('sends a visitor without a session to the login page, and answers API calls without one with 401', async () => {
    const anonymous = await f.browser.newContext();
    try {
      const tab = await anonymous.newPage();
      await tab.goto(`${f.server.url}/temporal/namespaces/default/workflows`);
      const landed = new URL(tab.url());
      assert.equal(landed.pathname, '/login');
      assert.equal(landed.searchParams.get('next'), '/temporal/namespaces/default/workflows');
      const api = await fetchFrom(anonymous, f.server.url, '/temporal/api/v1/namespaces/default/workflows');
      assert.equal(api.status, 401, api.body);
      assert.ok(!api.body.includes(f.backup.workflowId), 'and lists nothing');
    } finally {
      await anonymous.close();
    }
  });

  it('is read-only: a terminate through it is refused with the ways to act, and the run goes on', () =>
    checkReadOnly(f));

  it('lets the UI on its own port decode across origins with the session, never encode, never for a foreign origin', () =>
    checkCodecAcrossOrigins(f));

  it('refuses a user who cannot read every workspace, in the UI, its header link and the codec', () =>
    checkPartialViewerRefused(f));
});
