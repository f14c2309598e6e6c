import net from 'node:net';
import { randomInt } from 'node:crypto';
import { freePort as kernelChosenPort } from '../../lib/net/free-port.ts';

/**
 * A free loopback port below the kernel's ephemeral range (32768 and up). Test files run side by
 * side, and a port the kernel chose can be handed out again — to another file's `listen(0)`, to
 * the internal listeners Temporal's dev server picks itself, to an outgoing connection — before the
 * server it was chosen for binds it. Ports drawn at random from below that range meet none of those.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const port = 20_000 + randomInt(12_000);
    if (await isFree(port)) return port;
  }
  return kernelChosenPort();
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}
