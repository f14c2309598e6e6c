/**
 * The Temporal UI of the dev server, in a real chromium, decoding through the console's codec
 * endpoint with the console's session cookie instead of the codec token. `temporal server
 * start-dev` cannot tell the UI to include credentials (its only codec flag is
 * `--ui-codec-endpoint`), so the browser carries the one setting an operator makes in the UI's
 * "Configure Codec Server"; the rest (preflight, SameSite cookie, CORS) is the browser's own.
 */ import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { targetUrl } from '../../lib/pg/connection.ts';
import { EncryptionCodec } from '../../temporal/codec.ts';
import { operatorActor } from '../../services/authz.ts';
import { createConsoleServices, type HostServices } from '../../web/src/lib/server/view/index.ts';
import { startWebServer, type WebServer } from '../../web/server.ts';
import type { BrowserContext } from 'playwright-core';
import { launchChromium } from '../support/browser.ts';
import { callCodecFromUi, includeCredentialsInUi, signedInContext, uiPageText } from '../support/codec-browser.ts';
import { freePort } from '../support/ports.ts';
import type { Platform } from '../support/platform.ts';
import { startSeededPlatform } from '../support/seeded-platform.ts';
import { TemporalCli } from '../support/temporal-cli.ts';

interface StartedEvent {
  workflowExecutionStartedEventAttributes?: { input?: { payloads: unknown[] } };
}

const viewer = { email: 'codec-viewer@example.org', password: 'correct horse battery staple' };

interface Fixture {
  platform: Platform;
  server: WebServer;
  services: HostServices;
  uiOrigin: string;
  cli: TemporalCli;
  backup: { workflowId: string; backupId: string; inputPayloads: unknown[] };
}

/** A platform with one backup run of `ledger`, the console and its codec endpoint, and a viewer of `default`. */
async function startFixture(): Promise<Fixture> {
  const [uiPort, webPort] = [await freePort(), await freePort()];
  const temporalUi = { port: uiPort, codecEndpoint: `http://127.0.0.1:${webPort}/codec` };
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
  await services.access.createUser(operatorActor('test'), { ...viewer, workspace: 'default', role: 'viewer' });
  return { platform, server, services, uiOrigin, cli, backup: { workflowId: run.workflowId, backupId, inputPayloads } };
}

describe('the Temporal UI decodes with a console session', () => {
  let platform: Platform;
  let server: WebServer;
  let services: HostServices;
  let uiOrigin: string;
  let cli: TemporalCli;
  let backup: Fixture['backup'];

  before(async () => {
    ({ platform, server, services, uiOrigin, cli, backup } = await startFixture());
  });

  after(async () => {
    await server?.close();
    await platform?.stop();
  });

  it("the temporal CLI prints a backup run's result in clear with --codec-endpoint and --codec-auth, as docs/temporal.md shows", async () => {
    const raw = await cli.run(['workflow', 'result', '--workflow-id', backup.workflowId, '--output', 'json']);
    assert.ok(!raw.includes(backup.backupId), 'without the codec the result is ciphertext');
    const args = ['workflow', 'result', '--workflow-id', backup.workflowId, '--output', 'json'];
    const readable = await cli.run(args, { codec: true });
    assert.ok(
      readable.includes(backup.backupId),
      `with the codec the result names the backup: ${readable.slice(0, 300)}`,
    );
    const doc = await readFile('docs/temporal.md', 'utf8');
    assert.match(doc, /workflow result --workflow-id \S+ --codec-endpoint http:\/\/\S+\/codec --codec-auth "Bearer /);
    assert.match(doc, /workflow show --workflow-id \S+ --codec-endpoint http:\/\/\S+\/codec --codec-auth "Bearer /);
  });

  it("the Temporal UI's page of a backup run shows its input and result decoded to a signed-in viewer, and no codec banner", async () => {
    const browser = await launchChromium();
    try {
      const page = `${uiOrigin}/namespaces/default/workflows/${encodeURIComponent(backup.workflowId)}`;
      const codec = `${server.url}/codec`;
      const readPage = async (context: BrowserContext, text: string) => {
        await includeCredentialsInUi(context, uiOrigin, codec);
        return uiPageText(context, page, text);
      };
      const viewerContext = await signedInContext(browser, server.url, viewer.email, viewer.password);
      const signedIn = await readPage(viewerContext, backup.backupId);
      assert.match(signedIn, /"database": "ledger"/, 'the input reads in clear');
      assert.ok(!signedIn.includes('Codec Server could not connect'), 'no codec banner');
      const anonymous = await readPage(await browser.newContext(), 'Codec Server could not connect');
      assert.ok(!anonymous.includes(backup.backupId), 'without a session the result stays encrypted');
      assert.ok(!anonymous.includes('"database": "ledger"'), 'and so does the input');
    } finally {
      await browser.close();
    }
  });

  it("a browser signed into the console decodes a backup's input from the UI's origin; no session, another origin, encoding, and a role that cannot read every workspace are refused", async () => {
    const url = `${server.url}/codec/decode`;
    const browser = await launchChromium();
    try {
      const signedIn = await signedInContext(browser, server.url, viewer.email, viewer.password);
      const decoded = await callCodecFromUi(signedIn, uiOrigin, url, backup.inputPayloads);
      assert.equal(decoded.status, 200, decoded.body);
      const [input] = (JSON.parse(decoded.body) as { payloads: Array<{ data: string }> }).payloads;
      assert.match(Buffer.from(input!.data, 'base64').toString(), /"database":"ledger"/, 'the input reads in clear');
      const encode = await callCodecFromUi(signedIn, uiOrigin, `${server.url}/codec/encode`, backup.inputPayloads);
      assert.equal(encode.status, 403, 'a session decodes only: encoding, which starts work, needs the token');

      const anonymous = await callCodecFromUi(await browser.newContext(), uiOrigin, url, backup.inputPayloads);
      assert.equal(anonymous.status, 401, 'no session: refused');
      assert.ok(!anonymous.body.includes('ledger'), 'and nothing decoded');
      const cookie = (await signedIn.cookies(server.url)).map((c) => `${c.name}=${c.value}`).join('; ');
      const foreign = await fetch(url, {
        method: 'POST',
        body: JSON.stringify({ payloads: backup.inputPayloads }),
        headers: { 'content-type': 'application/json', origin: 'https://evil.example', cookie },
      });
      assert.equal(foreign.status, 401, 'the session cookie counts only from the UI origin');
      assert.equal(foreign.headers.get('access-control-allow-origin'), null);
      assert.ok(!(await foreign.text()).includes('ledger'), 'and nothing decoded');

      // Every workspace's runs share the namespace: a viewer of `default` alone may no longer decode.
      await services.access.createWorkspace(operatorActor('test'), 'codec-blue');
      const partial = await callCodecFromUi(signedIn, uiOrigin, url, backup.inputPayloads);
      assert.equal(partial.status, 403, partial.body);
      assert.ok(!partial.body.includes('ledger'), 'and nothing decoded');
    } finally {
      await browser.close();
    }
  });
});
