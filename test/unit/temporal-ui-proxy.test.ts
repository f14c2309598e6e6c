/**
 * The console's /temporal/ route against a real HTTP server standing in for the Temporal UI
 * server, which records what reaches it: only reads pass, with none of the browser's cookies or
 * credentials, and what comes back is made fit for the console's origin; large answers stream,
 * and a browser that leaves takes the request to the UI server with it. The sessions are a
 * table of tokens here; test/integration/payload-codec-ui.test.ts runs the real UI and sessions.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import express from 'express';
import { operatorActor, type Actor } from '../../services/authz.ts';
import { temporalUiProxy } from '../../web/temporal-ui-proxy.ts';
import type { HostServices } from '../../web/src/lib/server/view/index.ts';

const BOOT = 'console.log("boot")';
const PAGE = `<!doctype html><html><body><script>${BOOT}</script></body></html>`;

/** An asset larger than any buffer on the way: 8 MiB, the first of them sent before the rest is released. */
const CHUNK = Buffer.alloc(1024 * 1024, 'a');
const CHUNKS = 8;
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  /** Settles when the UI server's side of this request's connection closes. */
  closed: Promise<void>;
}

/** What the test lets the UI server do next: send the rest of the large asset. */
const gate = { release: () => undefined as void, released: Promise.resolve() };
function closeGate(): void {
  gate.released = new Promise((resolve) => (gate.release = resolve));
}

async function sendLarge(res: ServerResponse): Promise<void> {
  res.setHeader('Content-Type', 'text/javascript');
  res.write(CHUNK);
  await gate.released;
  for (let i = 1; i < CHUNKS; i++) if (!res.write(CHUNK)) await once(res, 'drain');
  res.end();
}

/** The UI server's part: a page, its settings, an API answer with the cookie it sets, a large asset, and a hang. */
function startUpstream(seen: Seen[]): Promise<Server> {
  const server = createServer((req, res) => {
    const closed = once(res, 'close').then(() => undefined);
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, closed });
    res.setHeader('Set-Cookie', '_csrf=abc; Path=/');
    if (req.url === '/temporal/api/v1/settings?huge')
      return void res.end(JSON.stringify({ Banner: 'x'.repeat(5 * 1024 * 1024) }));
    if (req.url?.startsWith('/temporal/api/v1/settings'))
      return void res.end(JSON.stringify({ DisableWriteActions: false, Codec: { Endpoint: '/codec' } }));
    if (req.url === '/temporal/_app/large.js') return void sendLarge(res);
    if (req.url === '/temporal/_app/stalled.js')
      return void (res.setHeader('Content-Type', 'text/javascript'), res.write(CHUNK));
    if (req.url?.startsWith('/temporal/api/v1/hang')) return;
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

async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
}

/** The console's part: the route alone, in front of `upstream`, with the owner signed in. */
async function startConsole(upstream: string, timeoutMs?: number): Promise<Server> {
  const services = sessions({ owner: operatorActor('test') });
  const app = express().use('/temporal', temporalUiProxy({ services, upstream, log: () => undefined, timeoutMs }));
  const server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

/** Fails rather than hangs when what a test waits for never happens. */
function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

const signedIn = { cookie: 'hindsight_session=owner; other=1', authorization: 'Bearer hs_secret' };
const seen: Seen[] = [];
let upstream: Server;
let consoleServer: Server;
let base: string;

before(async () => {
  upstream = await startUpstream(seen);
  consoleServer = await startConsole(urlOf(upstream));
  base = urlOf(consoleServer);
});

after(async () => {
  await closeServer(consoleServer);
  await closeServer(upstream);
});

describe('the /temporal/ route', () => {
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

describe('the /temporal/ route, as a forwarder', () => {
  it('streams a large asset as it comes, and it arrives whole', async () => {
    closeGate();
    const res = await fetch(`${base}/temporal/_app/large.js`, { headers: signedIn });
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    const parts: Buffer[] = [];
    let size = 0;
    // A forwarder that buffered would hold this back until the UI server sent the rest, which it does not yet.
    while (size < CHUNK.length) {
      const { value } = await within(5000, 'the first MiB, before the rest is sent', reader.read());
      parts.push(Buffer.from(value!));
      size += value!.length;
    }
    gate.release();
    for (let r = await reader.read(); !r.done; r = await reader.read()) parts.push(Buffer.from(r.value));
    const body = Buffer.concat(parts);
    assert.equal(body.length, CHUNK.length * CHUNKS);
    assert.equal(sha256(body), sha256(Buffer.concat(Array.from({ length: CHUNKS }, () => CHUNK))));
    assert.equal(res.headers.get('content-type'), 'text/javascript');
  });

  it('answers HEAD with the headers of the page and no body', async () => {
    const res = await fetch(`${base}/temporal/namespaces`, { method: 'HEAD', headers: signedIn });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), '');
    assert.equal(res.headers.get('content-type'), 'text/html');
    assert.match(res.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
    assert.equal(seen.at(-1)!.method, 'HEAD');
  });

  it('gives up the request to the UI server when the browser leaves, before or during the answer', async () => {
    for (const path of ['/temporal/api/v1/hang', '/temporal/_app/stalled.js']) {
      const leave = new AbortController();
      const before = seen.length;
      const res = fetch(`${base}${path}`, { headers: signedIn, signal: leave.signal });
      await within(
        5000,
        `${path} reaching the UI server`,
        (async () => {
          while (seen.length === before) await new Promise((r) => setTimeout(r, 10));
        })(),
      );
      if (path.endsWith('.js')) await (await res).body!.getReader().read();
      leave.abort();
      await res.then((r) => r.body?.cancel()).catch(() => undefined);
      await within(5000, `${path} closed at the UI server`, seen.at(-1)!.closed);
    }
  });

  it('answers 502 when the settings are too large to rewrite', async () => {
    const res = await fetch(`${base}/temporal/api/v1/settings?huge`, { headers: signedIn });
    assert.equal(res.status, 502);
    assert.match(((await res.json()) as { message: string }).message, /over \d+ bytes/);
  });
});

describe('the /temporal/ route without its UI server', () => {
  async function answerOf(console: Server) {
    try {
      const res = await fetch(`${urlOf(console)}/temporal/api/v1/hang`, { headers: signedIn });
      return { status: res.status, message: ((await res.json()) as { message: string }).message };
    } finally {
      await closeServer(console);
    }
  }

  it('names the UI server and the setting to check when it is down', async () => {
    const down = await startUpstream([]);
    const address = urlOf(down);
    await closeServer(down);
    const { status, message } = await answerOf(await startConsole(address));
    assert.equal(status, 502);
    assert.ok(message.includes(`${address}/temporal`), message);
    assert.match(message, /ECONNREFUSED.*HINDSIGHT_TEMPORAL_UI_UPSTREAM/);
  });

  it('answers 502 when the UI server does not start its answer in time', async () => {
    const { status, message } = await answerOf(await startConsole(urlOf(upstream), 200));
    assert.equal(status, 502);
    assert.match(message, /no answer within 0.2 s.*HINDSIGHT_TEMPORAL_UI_UPSTREAM/);
    await within(5000, 'the timed-out request closed at the UI server', seen.at(-1)!.closed);
  });
});
