/**
 * A TCP proxy that puts network faults between Hindsight and a real server (moto's S3, PostgreSQL):
 * connections reset after some bytes, latency, limited bandwidth, HTTP error answers, a stall that
 * sends nothing and closes nothing, or a server that is down. The fault is set while the proxy
 * runs; connections opened before keep the fault they started with. Written for the tests instead
 * of Toxiproxy, whose binary would have to be built; it needs nothing but node:net.
 */
import net from 'node:net';

export type Fault =
  | { kind: 'pass' }
  /** The next `times` connections that carry `afterBytes` towards the server are reset there. */
  | { kind: 'reset'; afterBytes: number; times: number }
  /** Every chunk, either way, waits this long. */
  | { kind: 'latency'; ms: number }
  /** Bytes towards the server at most this fast. */
  | { kind: 'bandwidth'; bytesPerSecond: number }
  /** The next `times` requests are answered with this HTTP status (S3's XML error body) and closed. */
  | { kind: 'http-status'; status: number; times: number }
  /** The next `times` connections that carry `afterBytes` then go silent both ways, never closed. */
  | { kind: 'stall'; afterBytes: number; times: number }
  /** Every connection is closed as it opens. */
  | { kind: 'down' };

export interface FaultProxy {
  /** `http://127.0.0.1:<port>` */
  url: string;
  port: number;
  set(fault: Fault): void;
  /** How many times the fault was applied since it was set (connections reset, answers given…). */
  injected(): number;
  /** Cuts every open connection now (a reset each way), as a network that drops mid-transfer. */
  cut(): number;
  stop(): Promise<void>;
}

const STATUS_TEXT: Record<number, [string, string]> = {
  500: ['Internal Server Error', 'InternalError'],
  503: ['Service Unavailable', 'SlowDown'],
};

function answerStatus(client: net.Socket, status: number): void {
  const [text, code] = STATUS_TEXT[status] ?? ['Error', 'InternalError'];
  const body = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>injected by the fault proxy</Message></Error>`;
  let head = '';
  const onData = (chunk: Buffer) => {
    head += chunk.toString('latin1');
    if (!head.includes('\r\n\r\n')) return;
    client.off('data', onData);
    client.end(
      `HTTP/1.1 ${status} ${text}\r\ncontent-type: application/xml\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`,
    );
  };
  client.on('data', onData);
}

/**
 * How a chunk is held: latency delays each chunk by the same time without holding the next one
 * (timers of equal delay fire in order, so order holds); a bandwidth limit pauses the sender until
 * the chunk has had its time on the wire.
 */
interface Hold {
  ms: number;
  pause: boolean;
}

/**
 * Forwards `from` to `to`, each chunk as `holdOf` says; `onBytes` may swallow it (a fault took over).
 * Returns when every chunk held so far has been written: a side that closes first must not take
 * the other's delayed bytes with it.
 */
function forward(
  from: net.Socket,
  to: net.Socket,
  holdOf: (bytes: number) => Hold,
  onBytes: (total: number) => boolean,
): () => Promise<void> {
  let total = 0;
  let ending = Promise.resolve();
  from.on('data', (chunk: Buffer) => {
    total += chunk.length;
    if (!onBytes(total)) return;
    const { ms, pause } = holdOf(chunk.length);
    if (ms <= 0) {
      if (!to.write(chunk)) from.pause();
      return;
    }
    if (pause) from.pause();
    ending = new Promise((resolve) =>
      setTimeout(() => {
        if (!to.destroyed) to.write(chunk);
        if (pause) from.resume();
        resolve();
      }, ms).unref(),
    );
  });
  to.on('drain', () => from.resume());
  from.on('end', () => void ending.then(() => to.end()));
  return () => ending;
}

export async function startFaultProxy(target: { host: string; port: number }): Promise<FaultProxy> {
  let fault: Fault = { kind: 'pass' };
  let applied = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const current = fault;
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => undefined);
    if (current.kind === 'down') {
      applied += 1;
      client.destroy();
      return;
    }
    if (current.kind === 'http-status' && current.times > applied) {
      applied += 1;
      answerStatus(client, current.status);
      return;
    }
    const upstream = net.connect(target);
    sockets.add(upstream);
    upstream.on('error', () => client.destroy());
    let nextFree = Date.now();
    const latency = (): Hold => ({ ms: current.kind === 'latency' ? current.ms : 0, pause: false });
    const towardServer = (bytes: number): Hold => {
      if (current.kind !== 'bandwidth') return latency();
      // Each chunk goes out once the bytes before it and its own have had their time on the wire.
      nextFree = Math.max(nextFree, Date.now()) + (bytes / current.bytesPerSecond) * 1000;
      return { ms: nextFree - Date.now(), pause: true };
    };
    let tripped = false;
    const watch = (total: number) => {
      if (tripped) return false;
      if ((current.kind !== 'reset' && current.kind !== 'stall') || total < current.afterBytes) return true;
      if (applied >= current.times) return true;
      applied += 1;
      tripped = true;
      if (current.kind === 'reset') {
        client.resetAndDestroy();
        upstream.destroy();
      }
      return false;
    };
    const sentToServer = forward(client, upstream, towardServer, watch);
    const sentToClient = forward(upstream, client, latency, () => !tripped);
    upstream.on('close', () => {
      sockets.delete(upstream);
      void sentToClient().then(() => client.destroy());
    });
    client.on('close', () => void sentToServer().then(() => upstream.destroy()));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    set(next) {
      fault = next;
      applied = 0;
    },
    injected: () => applied,
    cut() {
      const open = [...sockets];
      for (const socket of open) socket.resetAndDestroy();
      return open.length;
    },
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
