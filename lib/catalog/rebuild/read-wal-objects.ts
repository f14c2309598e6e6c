/**
 * The WAL objects of an archive that no index batch describes, read from their own bytes: complete
 * segments (a batch lost to a crash, or written before batches existed), partial segments and
 * timeline histories. Each is decrypted with its key as identity, decompressed and hashed.
 */
import { errorMessage, HindsightError } from '../../errors.ts';
import { assertSegmentSize, formatLsn, parseHistoryFile, parseSegmentName, segmentStartLsn } from '../../wal/lsn.ts';
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
  const decoded = await decodeObject(source.driver, object.key, source.key, false);
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
  const decoded = await decodeObject(source.driver, object.key, source.key, true);
  const content = decoded.content!.toString('utf8');
  parseHistoryFile(content);
  return { timeline: Number.parseInt(object.name.slice(0, 8), 16), content, objectKey: object.key };
}

/**
 * Reads what `covered` (segment names an index batch holds) leaves out. Complete segments go first:
 * one of them tells the segment size when no record does, and a partial of a segment that is
 * stored complete is not read at all.
 */
export async function readLooseObjects(
  source: ArchiveSource,
  options: { covered: Set<string>; segmentSize: number | undefined },
): Promise<LooseObjects> {
  const objects = walObjects(source);
  const complete = new Set(objects.filter((o) => !o.partial && !o.name.endsWith('.history')).map((o) => o.name));
  const sizes = { known: options.segmentSize };
  const result: LooseObjects = { segments: [], histories: [], segmentSize: undefined };
  const ordered = [...objects].sort((a, b) => Number(a.partial) - Number(b.partial));
  for (const object of ordered) {
    const history = object.name.endsWith('.history');
    if (!history && options.covered.has(object.name)) continue;
    if (object.partial && complete.has(object.name)) continue;
    try {
      if (history) result.histories.push(await readHistory(source, object));
      else result.segments.push(await readSegment(source, object, sizes));
    } catch (error) {
      source.unreadable.push({ key: object.key, reason: errorMessage(error) });
    }
  }
  result.segmentSize = sizes.known;
  return result;
}
