/**
 * The WAL objects of an archive that no index batch describes, read from their own bytes: complete
 * segments (a batch lost to a crash, or written before batches existed), partial segments and
 * timeline histories. Each is decrypted with its key as identity, decompressed and hashed.
 */
import { errorMessage, HindsightError } from '../../errors.ts';
import { assertSegmentSize, formatLsn, parseHistoryFile, parseSegmentName, segmentStartLsn } from '../../wal/lsn.ts';
import { READ_CONCURRENCY, mapBounded } from './bounded.ts';
import { decodeObject } from './decode-object.ts';
import type { ArchiveSource, FoundHistory, FoundSegment } from './findings.ts';

const WAL_OBJECT = /^pitr\/\d+\/wal\/([0-9A-F]{24}|[0-9A-F]{8}\.history)(\.partial)?\.zst\.hsb$/;

interface WalObject {
  key: string;
  name: string;
  partial: boolean;
  receivedAt: string;
}

export interface LooseObjects {
  segments: FoundSegment[];
  histories: FoundHistory[];
  /** The segment size a complete segment showed, when no record gave one. */
  segmentSize: number | undefined;
}

function walObjects(source: ArchiveSource): WalObject[] {
  const found: WalObject[] = [];
  for (const info of source.listing) {
    const match = WAL_OBJECT.exec(info.key);
    if (match && !(match[2] && match[1]!.endsWith('.history')))
      found.push({
        key: info.key,
        name: match[1]!,
        partial: match[2] !== undefined,
        receivedAt: info.modifiedAt.toISOString(),
      });
  }
  return found;
}

async function readSegment(source: ArchiveSource, object: WalObject, sizes: { known: number | undefined }) {
  const decoded = await decodeObject(source.driver, object.key, source.key, false, source.sizes.get(object.key));
  if (!object.partial) {
    if (sizes.known === undefined) {
      assertSegmentSize(decoded.rawBytes);
      sizes.known = decoded.rawBytes;
    } else if (decoded.rawBytes !== sizes.known)
      throw new HindsightError(
        'integrity',
        `it decodes to ${decoded.rawBytes} bytes, not the ${sizes.known}-byte segment size`,
      );
  }
  if (sizes.known === undefined)
    throw new HindsightError('integrity', 'no base backup, index batch or complete segment gives the segment size');
  const start = segmentStartLsn(parseSegmentName(object.name, sizes.known).segno, sizes.known);
  const segment: FoundSegment = {
    name: object.name,
    startLsn: formatLsn(start),
    endLsn: formatLsn(start + BigInt(decoded.rawBytes)),
    complete: !object.partial,
    sizeBytes: decoded.rawBytes,
    storedBytes: decoded.storedBytes,
    sha256: decoded.rawSha256,
    objectKey: object.key,
    receivedAt: object.receivedAt,
  };
  return segment;
}

async function readHistory(source: ArchiveSource, object: WalObject): Promise<FoundHistory> {
  const decoded = await decodeObject(source.driver, object.key, source.key, true, source.sizes.get(object.key));
  const content = decoded.content!.toString('utf8');
  parseHistoryFile(content);
  return { timeline: Number.parseInt(object.name.slice(0, 8), 16), content, objectKey: object.key };
}

type LooseResult = { segment: FoundSegment } | { history: FoundHistory } | { reason: string };

async function readLoose(source: ArchiveSource, object: WalObject, sizes: { known: number | undefined }) {
  try {
    if (object.name.endsWith('.history')) return { history: await readHistory(source, object) };
    return { segment: await readSegment(source, object, sizes) };
  } catch (error) {
    return { reason: errorMessage(error) };
  }
}

/**
 * Reads what `covered` (segment names an index batch holds) leaves out. Complete segments go first:
 * one of them tells the segment size when no record does, and a partial of a segment that is
 * stored complete is not read at all. Until the size is known, objects are read one at a time (the
 * first complete segment that decodes sets it); then several at a time, their findings kept in
 * this same order.
 */
export async function readLooseObjects(
  source: ArchiveSource,
  options: { covered: Set<string>; segmentSize: number | undefined },
): Promise<LooseObjects> {
  const objects = walObjects(source);
  const complete = new Set(objects.filter((o) => !o.partial && !o.name.endsWith('.history')).map((o) => o.name));
  const sizes = { known: options.segmentSize };
  const toRead = [...objects]
    .sort((a, b) => Number(a.partial) - Number(b.partial))
    .filter(
      (o) => o.name.endsWith('.history') || !(options.covered.has(o.name) || (o.partial && complete.has(o.name))),
    );
  const results: LooseResult[] = [];
  let next = 0;
  for (; next < toRead.length && sizes.known === undefined; next += 1)
    results.push(await readLoose(source, toRead[next]!, sizes));
  results.push(...(await mapBounded(toRead.slice(next), READ_CONCURRENCY, (o) => readLoose(source, o, sizes))));
  const result: LooseObjects = { segments: [], histories: [], segmentSize: sizes.known };
  results.forEach((found, i) => {
    if ('segment' in found) result.segments.push(found.segment);
    else if ('history' in found) result.histories.push(found.history);
    else source.unreadable.push({ key: toRead[i]!.key, reason: found.reason });
  });
  return result;
}
