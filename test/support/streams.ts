import { once } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Writes until the stream stops draining for a second; returns how many bytes it took in. */
export async function fillUntilStalled(stream: Writable): Promise<number> {
  const chunk = Buffer.alloc(256 * 1024, 7);
  let accepted = 0;
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    accepted += chunk.length;
    if (stream.write(chunk)) continue;
    const drained = await Promise.race([once(stream, 'drain').then(() => true), delay(1000).then(() => false)]);
    if (!drained) return accepted;
  }
  throw new Error(`the stream took ${accepted} bytes without ever holding the writer back`);
}
