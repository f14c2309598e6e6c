import type { Readable } from 'node:stream';
import { error, type RequestHandler } from '@sveltejs/kit';
import { services } from '#lib/server/services.ts';
import { actorOf, message, statusOf } from '#lib/server/actor.ts';

/**
 * Pulls one chunk from the backup whenever the browser takes one, so that a slow client holds
 * back the storage read instead of the backup piling up in memory. Cancelling (the browser
 * stopped the download) ends the read and closes the storage.
 */
function pulled(stream: Readable): ReadableStream<Uint8Array> {
  const chunks = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const { value, done } = await chunks.next();
        if (done) controller.close();
        else controller.enqueue(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
      },
      async cancel() {
        await chunks.return?.();
      },
    },
    { highWaterMark: 0 },
  );
}

/**
 * A backup as a download for the signed-in user: the pg_dump archive decrypted on the fly, or
 * with `?encrypted=1` the object as stored. The service checks the user's right to download and
 * audits it, reads from the first storage that holds the backup whole, and verifies checksums
 * as it streams: a damaged copy ends the download with an error rather than a complete-looking file.
 */
export const GET: RequestHandler = async ({ params, url, locals }) => {
  const decrypt = !['1', 'true'].includes(url.searchParams.get('encrypted') ?? '');
  let download;
  try {
    download = await services().backupReads.download(actorOf(locals), params.id!, { decrypt });
  } catch (err) {
    error(statusOf(err), message(err));
  }
  return new Response(pulled(download.stream), {
    headers: {
      'content-type': 'application/octet-stream',
      ...(download.sizeBytes === null ? {} : { 'content-length': String(download.sizeBytes) }),
      'content-disposition': `attachment; filename="${download.fileName}"`,
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    },
  });
};
