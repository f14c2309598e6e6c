/**
 * The console's /temporal/ route against a real HTTP server standing in for the Temporal UI
 * server, which records what reaches it: only reads pass, with none of the browser's cookies or
 * credentials, and what comes back is made fit for the console's origin. The sessions are a
 * table of tokens here; test/integration/payload-codec-ui.test.ts runs the real UI and sessions.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import express from 'express';
import { operatorActor, type Actor } from '../../services/authz.ts';
import { temporalUiProxy } from '../../web/temporal-ui-proxy.ts';
import type { HostServices } from '../../web/src/lib/server/view/index.ts';

const BOOT = 'console.log("boot")';
const PAGE = `<!doctype html><html><body><script>${BOOT}</script></body></html>`;

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

/** The UI server's part: a page, its settings, an API answer with the cookie it sets. */
function startUpstream(seen: Seen[]): Promise<Server> {
  const server = createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    res.setHeader('Set-Cookie', '_csrf=abc; Path=/');
    if (req.url?.startsWith('/temporal/api/v1/settings'))
      return void res.end(JSON.stringify({ DisableWriteActions: false, Codec: { Endpoint: '/codec' } }));
    if (req.url?.startsWith('/temporal/api/')) return void res.end('{"executions":[]}');
    res.setHeader('Content-Type', 'text/html');
    res.end(PAGE);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/** Just what the route asks of the console's services: sessions by cookie, and whether setup is done. */
function sessions(actors: Record<string, Actor>): HostServices {
  return {
    auth: { cookie: { name: 'hindsight_session' }, needsSetup: async () => false },
    access: { sessionActor: async (token: string) => actors[token] },
  } as unknown as HostServices;
}

const urlOf = (server: Server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

describe('the /temporal/ route', () => {
  const seen: Seen[] = [];
  let upstream: Server;
  let consoleServer: Server;
  let base: string;
  const signedIn = { cookie: 'hindsight_session=owner; other=1', authorization: 'Bearer hs_secret' };

  before(async () => {
    upstream = await startUpstream(seen);
    const app = express();
    const services = sessions({ owner: operatorActor('test') });
    app.use('/temporal', temporalUiProxy({ services, upstream: urlOf(upstream), log: () => undefined }));
    consoleServer = createServer(app);
    await new Promise<void>((resolve) => consoleServer.listen(0, '127.0.0.1', resolve));
    base = urlOf(consoleServer);
  });

  after(async () => {
    consoleServer.closeAllConnections();
    upstream.closeAllConnections();
    await new Promise((r) => consoleServer.close(r));
    await new Promise((r) => upstream.close(r));
  });

  it("forwards a signed-in read without the browser's cookies, credentials or origin, and drops the cookie the UI server sets", async () => {
    const res = await fetch(`${base}/temporal/api/v1/namespaces/default/workflows?pageSize=1`, {
      headers: { ...signedIn, origin: base },
    });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), '{"executions":[]}');
    const got = seen.at(-1)!;
    assert.equal(got.url, '/temporal/api/v1/namespaces/default/workflows?pageSize=1');
    for (const header of ['cookie', 'authorization', 'origin'])
      assert.equal(got.headers[header], undefined, `${header} is not forwarded`);
    assert.equal(res.headers.get('set-cookie'), null, 'no cookie of the UI server lands on the console origin');
    assert.equal(res.headers.get('cache-control'), 'no-store');
  });

  it("serves the UI's pages under a CSP that allows their own boot script by hash, and no framing", async () => {
    const res = await fetch(`${base}/temporal/namespaces/default/workflows`, { headers: signedIn });
    assert.equal(await res.text(), PAGE);
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.ok(csp.includes(`'sha256-${createHash('sha256').update(BOOT).digest('base64')}'`), csp);
    assert.doesNotMatch(csp, /script-src[^;]*'unsafe-inline'/, 'no other inline script runs');
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(res.headers.get('x-frame-options'), 'DENY');
  });

  it("answers the UI's settings with every write action switched off", async () => {
    const res = await fetch(`${base}/temporal/api/v1/settings?`, { headers: signedIn });
    const settings = (await res.json()) as Record<string, unknown>;
    assert.equal(settings.DisableWriteActions, true);
    assert.equal(settings.WorkflowTerminateDisabled, true);
    assert.deepEqual(settings.Codec, { Endpoint: '/codec' }, 'the rest as the UI server said');
  });

  it('refuses every write before it reaches the UI server, and asks a visitor to sign in', async () => {
    const before = seen.length;
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      const res = await fetch(`${base}/temporal/api/v1/namespaces/default/workflows/x/terminate`, {
        method,
        headers: signedIn,
      });
      assert.equal(res.status, 403, method);
      assert.match(((await res.json()) as { message: string }).message, /read-only.*--codec-endpoint/);
    }
    const api = await fetch(`${base}/temporal/api/v1/namespaces`, { headers: { cookie: 'hindsight_session=stale' } });
    assert.equal(api.status, 401);
    const page = await fetch(`${base}/temporal/namespaces`, { redirect: 'manual' });
    assert.equal(page.status, 303);
    assert.equal(page.headers.get('location'), '/login?next=%2Ftemporal%2Fnamespaces');
    assert.equal(seen.length, before, 'none of them reached the UI server');
  });
});

describe('the /temporal/ route without its UI server', () => {
  const signedIn = { cookie: 'hindsight_session=owner' };

  it('says which setting to check when the UI server does not answer', async () => {
    const down = await startUpstream([]);
    const address = urlOf(down);
    await new Promise((r) => down.close(r));
    const app = express().use(
      '/temporal',
      temporalUiProxy({
        services: sessions({ owner: operatorActor('test') }),
        upstream: address,
        log: () => undefined,
      }),
    );
    const server = createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const res = await fetch(`${urlOf(server)}/temporal/api/v1/namespaces`, { headers: signedIn });
      assert.equal(res.status, 502);
      assert.match(((await res.json()) as { message: string }).message, /HINDSIGHT_TEMPORAL_UI_UPSTREAM/);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
