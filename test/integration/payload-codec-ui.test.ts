/**
 * The codec endpoint as the Temporal UI calls it: from the UI's own origin, with the console's
 * session cookie instead of the codec token. The Temporal UI of `temporal server start-dev` cannot
 * be told to include credentials from the command line (its only codec flag is
 * `--ui-codec-endpoint`), so the browser here runs, from a page at the UI's origin, the very
 * request the UI sends once its codec settings include credentials: a real chromium, so the
 * preflight, the SameSite cookie and CORS are the browser's own.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { targetUrl } from '../../lib/pg/connection.ts';
import { EncryptionCodec } from '../../temporal/codec.ts';
import { operatorActor } from '../../services/authz.ts';
import { createConsoleServices, type HostServices } from '../../web/src/lib/server/view/index.ts';
import { startWebServer, type WebServer } from '../../web/server.ts';
import { launchChromium } from '../support/browser.ts';
import { callCodecFromUi, signedInContext, startUiOrigin, type UiOrigin } from '../support/codec-browser.ts';
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
  ui: UiOrigin;
  cli: TemporalCli;
  backup: { workflowId: string; backupId: string; inputPayloads: unknown[] };
}

/** A platform with one backup run of `ledger`, the console and its codec endpoint, and a viewer of `default`. */
async function startFixture(): Promise<Fixture> {
  const { platform, source } = await startSeededPlatform('ledger', 'create table entries (id int primary key)');
  await platform.ops.addDatabase({ name: 'ledger', url: targetUrl(source), verifyAfterBackup: false });
  const ui = await startUiOrigin();
  const services = createConsoleServices(platform.services);
  const token = randomBytes(16).toString('hex');
  const server = await startWebServer({
    services,
    codec: {
      codec: new EncryptionCodec(platform.runtime.key, [], { plaintext: 'pass' }),
      token,
      corsOrigin: ui.origin,
    },
    host: '127.0.0.1',
    port: await freePort(),
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
  return { platform, server, services, ui, cli, backup: { workflowId: run.workflowId, backupId, inputPayloads } };
}

describe('the Temporal UI decodes with a console session', () => {
  let platform: Platform;
  let server: WebServer;
  let services: HostServices;
  let ui: UiOrigin;
  let cli: TemporalCli;
  let backup: Fixture['backup'];

  before(async () => {
    ({ platform, server, services, ui, cli, backup } = await startFixture());
  });

  after(async () => {
    await server?.close();
    await ui?.close();
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

  it("a browser signed into the console decodes a backup's input from the UI's origin; no session, another origin, encoding, and a role that cannot read every workspace are refused", async () => {
    const url = `${server.url}/codec/decode`;
    const browser = await launchChromium();
    try {
      const signedIn = await signedInContext(browser, server.url, viewer.email, viewer.password);
      const decoded = await callCodecFromUi(signedIn, ui.origin, url, backup.inputPayloads);
      assert.equal(decoded.status, 200, decoded.body);
      const [input] = (JSON.parse(decoded.body) as { payloads: Array<{ data: string }> }).payloads;
      assert.match(Buffer.from(input!.data, 'base64').toString(), /"database":"ledger"/, 'the input reads in clear');
      const encode = await callCodecFromUi(signedIn, ui.origin, `${server.url}/codec/encode`, backup.inputPayloads);
      assert.equal(encode.status, 403, 'a session decodes only: encoding, which starts work, needs the token');

      const anonymous = await callCodecFromUi(await browser.newContext(), ui.origin, url, backup.inputPayloads);
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
      const partial = await callCodecFromUi(signedIn, ui.origin, url, backup.inputPayloads);
      assert.equal(partial.status, 403, partial.body);
      assert.ok(!partial.body.includes('ledger'), 'and nothing decoded');
    } finally {
      await browser.close();
    }
  });
});
