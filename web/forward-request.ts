/**
 * One read forwarded to one fixed upstream over node:http(s): the request goes out with only the
 * headers named, the answer comes back with its status and only the headers named, streamed as it
 * arrives, unless the caller asks to rewrite it (then it is read whole, up to a size cap, first).
 * No proxy library: reads to one upstream need a request, a pipeline and a few listeners, and
 * nothing here depends on another package's internals.
 */
import { once } from 'node:events';
import http, { type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';

/** Replaces a whole body; it may still set the response's headers, none has been sent yet. */
export type BodyRewrite = (body: Buffer) => Buffer | string;

export interface Forwarding {
  /** The upstream's base URL; `path` is appended to it as is, so the host can never change. */
  upstream: URL;
  /** The path and query to ask for, appended to the upstream's own path. */
  path: string;
  /** Request headers passed on (lower case); every other one is withheld. */
  requestHeaders: ReadonlySet<string>;
  /** Response headers passed back (lower case); every other one is dropped. */
  responseHeaders: ReadonlySet<string>;
  /** How long the upstream may take to accept the connection and send its status and headers. */
  timeoutMs: number;
  /** The most a rewritten body may weigh; a larger one fails the request rather than filling memory. */
  maxRewriteBytes: number;
  /**
   * Called once the upstream's status and headers are on the response, before any of it is sent:
   * sets the caller's own headers, and returns how to rewrite the body, or nothing to stream it.
   */
  onResponse?: (upstream: IncomingMessage) => BodyRewrite | undefined;
}

/** Whatever ends a forwarding early: the upstream failed, was too slow or too large, or the client left. */
export class ForwardError extends Error {
  /** The browser closed its connection: nobody is left to answer. */
  readonly clientGone: boolean;
  constructor(message: string, options: { cause?: unknown; clientGone?: boolean } = {}) {
    super(message, { cause: options.cause });
    this.name = 'ForwardError';
    this.clientGone = options.clientGone ?? false;
  }
}

function pick(headers: IncomingHttpHeaders, allowed: ReadonlySet<string>): OutgoingHttpHeaders {
  return Object.fromEntries(
    Object.entries(headers).filter(([name, value]) => allowed.has(name) && value !== undefined),
  );
}

function decoded(body: IncomingMessage): Readable {
  switch (body.headers['content-encoding']) {
    case 'gzip':
      return body.pipe(zlib.createGunzip());
    case 'deflate':
      return body.pipe(zlib.createInflate());
    case 'br':
      return body.pipe(zlib.createBrotliDecompress());
    default:
      return body;
  }
}

async function readWhole(body: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  await pipeline(decoded(body), async (source: AsyncIterable<Buffer>) => {
    for await (const chunk of source) {
      size += chunk.length;
      if (size > maxBytes) throw new ForwardError(`its answer to rewrite is over ${maxBytes} bytes`);
      chunks.push(chunk);
    }
  });
  return Buffer.concat(chunks);
}

/** Sends the upstream's answer back to the browser: streamed, or rewritten whole. */
async function relay(upstream: IncomingMessage, res: http.ServerResponse, f: Forwarding, head: boolean) {
  res.statusCode = upstream.statusCode ?? 502;
  for (const [name, value] of Object.entries(pick(upstream.headers, f.responseHeaders))) res.setHeader(name, value!);
  const rewrite = f.onResponse?.(upstream);
  if (!rewrite) return pipeline(upstream, res);
  const body = rewrite(await readWhole(upstream, f.maxRewriteBytes));
  res.removeHeader('content-encoding');
  // A HEAD has no body to measure: no length rather than the one of a body it was not given.
  if (head) res.removeHeader('content-length');
  else res.setHeader('content-length', Buffer.byteLength(body));
  res.end(head ? undefined : body);
}

/**
 * Forwards a GET or HEAD (the caller refuses every other method) and resolves once the answer is
 * sent. Rejects with a ForwardError when the upstream fails or the browser leaves; the upstream
 * request is then aborted. Whether a 502 can still be sent is the caller's (`res.headersSent`).
 */
export async function forwardRequest(req: IncomingMessage, res: http.ServerResponse, f: Forwarding): Promise<void> {
  const own = new Set(res.getHeaderNames());
  const abort = new AbortController();
  const clientGone = () => {
    if (!res.writableFinished) abort.abort(new ForwardError('the browser closed the connection', { clientGone: true }));
  };
  res.once('close', clientGone);
  if (res.closed) clientGone();
  const slow = setTimeout(() => abort.abort(new ForwardError(`no answer within ${f.timeoutMs / 1000} s`)), f.timeoutMs);
  const send = f.upstream.protocol === 'https:' ? https.request : http.request;
  const base = f.upstream.pathname.replace(/\/+$/, '');
  try {
    const upstreamReq = send({
      protocol: f.upstream.protocol,
      hostname: f.upstream.hostname,
      port: f.upstream.port,
      path: `${base}${f.path}`,
      method: req.method,
      headers: pick(req.headers, f.requestHeaders),
      signal: abort.signal,
    });
    // Once the answer has begun, its failures reach the pipeline through the response stream.
    upstreamReq.on('error', () => undefined);
    upstreamReq.end();
    const [upstream] = (await once(upstreamReq, 'response')) as [IncomingMessage];
    clearTimeout(slow);
    await relay(upstream, res, f, req.method === 'HEAD');
  } catch (error) {
    // Nothing of the upstream's answer is kept when the caller can still answer in its place.
    if (!res.headersSent) for (const name of res.getHeaderNames()) if (!own.has(name)) res.removeHeader(name);
    const reason = abort.signal.aborted ? abort.signal.reason : error;
    if (reason instanceof ForwardError) throw reason;
    throw new ForwardError((reason as Error).message, { cause: reason });
  } finally {
    clearTimeout(slow);
    res.off('close', clientGone);
  }
}
