import { Readable } from 'node:stream';
import type { ContainerClient } from '@azure/storage-blob';
import type { ObjectInfo, ReadRange } from '../contract.ts';
import { translatedStream } from '../shared/streams.ts';
import { isMissingBlob, statusOf, type Translate } from './errors.ts';

export async function statBlob(
  container: ContainerClient,
  name: string,
  key: string,
  translate: Translate,
): Promise<ObjectInfo | undefined> {
  try {
    const properties = await container.getBlobClient(name).getProperties();
    return { key, size: properties.contentLength ?? 0, modifiedAt: properties.lastModified ?? new Date(0) };
  } catch (error) {
    if (isMissingBlob(error)) return undefined;
    throw translate('stat', key, error);
  }
}

/** Downloads `[range.start, range.end)` of the blob `name`; an empty range still fails for a missing blob. */
export async function openBlobRead(
  container: ContainerClient,
  name: string,
  key: string,
  range: ReadRange | undefined,
  translate: Translate,
): Promise<Readable> {
  const blob = container.getBlobClient(name);
  if (range && range.end === range.start) {
    try {
      await blob.getProperties();
    } catch (error) {
      throw translate('read', key, error);
    }
    return Readable.from([]);
  }
  const offset = range?.start ?? 0;
  const count = range?.end !== undefined ? range.end - offset : undefined;
  try {
    const response = await blob.download(offset, count, { maxRetryRequests: 5 });
    const body = response.readableStreamBody as Readable | undefined;
    if (!body) return Readable.from([]);
    return translatedStream(body, (error) => translate('read', key, error));
  } catch (error) {
    // Azure refuses a range starting at or past the end; the contract reads that as no bytes.
    if (statusOf(error) === 416) {
      const info = await statBlob(container, name, key, translate).catch(() => undefined);
      if (info && offset >= info.size) return Readable.from([]);
    }
    throw translate('read', key, error);
  }
}
