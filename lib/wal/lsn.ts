/**
 * WAL position arithmetic, following PostgreSQL's xlog_internal.h: an LSN is a 64-bit byte
 * position in the WAL stream, written `X/Y` (high and low 32 bits in hex). Segments are
 * `wal_segment_size` bytes (a power of two from 1 MiB to 1 GiB, chosen at initdb, so never assumed
 * to be 16 MiB) and are named by timeline, then segno / segments-per-xlogid, then segno % that.
 */
import { HindsightError } from '../errors.ts';

export type Lsn = bigint;
export type Timeline = number;

const U32 = 0x1_0000_0000n;
export const MIN_SEGMENT_SIZE = 1 << 20;
export const MAX_SEGMENT_SIZE = 1 << 30;

const LSN_TEXT = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;
const SEGMENT_NAME = /^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})$/;
const HISTORY_NAME = /^([0-9A-F]{8})\.history$/;

/** Parses `16/B374D848` into a bigint byte position. */
export function parseLsn(text: string): Lsn {
  const m = LSN_TEXT.exec(text.trim());
  if (!m)
    throw new HindsightError('bad_input', `LSN "${text}" is not of the form X/Y with hex halves (e.g. 16/B374D848)`);
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

/** Formats an LSN the way PostgreSQL prints pg_lsn (upper-case hex, no leading zeros). */
export function formatLsn(lsn: Lsn): string {
  assertLsn(lsn);
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & (U32 - 1n)).toString(16).toUpperCase()}`;
}

function assertLsn(lsn: Lsn): void {
  if (lsn < 0n || lsn >= U32 * U32) throw new HindsightError('bad_input', `LSN ${lsn} is outside 0..2^64-1`);
}

/** Throws unless the size is a power of two between 1 MiB and 1 GiB, as initdb enforces. */
export function assertSegmentSize(segmentSize: number): void {
  const ok =
    Number.isInteger(segmentSize) &&
    segmentSize >= MIN_SEGMENT_SIZE &&
    segmentSize <= MAX_SEGMENT_SIZE &&
    (segmentSize & (segmentSize - 1)) === 0;
  if (!ok)
    throw new HindsightError(
      'bad_input',
      `WAL segment size ${segmentSize} is not a power of two between 1 MiB and 1 GiB (check "show wal_segment_size")`,
    );
}

/** Parses `show wal_segment_size` output ("16MB", "1GB") or a plain byte count. */
export function parseSegmentSizeSetting(text: string): number {
  const m = /^\s*(\d+)\s*(B|kB|MB|GB)?\s*$/.exec(text);
  if (!m) throw new HindsightError('bad_input', `wal_segment_size "${text}" is not a size like 16MB`);
  const unit = { B: 1, kB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 }[(m[2] ?? 'B') as 'B' | 'kB' | 'MB' | 'GB'];
  const size = Number(m[1]) * unit;
  assertSegmentSize(size);
  return size;
}

export function segmentsPerXLogId(segmentSize: number): bigint {
  assertSegmentSize(segmentSize);
  return U32 / BigInt(segmentSize);
}

/** XLByteToSeg: the segment that holds the byte at this LSN. */
export function segmentOf(lsn: Lsn, segmentSize: number): bigint {
  assertLsn(lsn);
  assertSegmentSize(segmentSize);
  return lsn / BigInt(segmentSize);
}

/**
 * XLByteToPrevSeg: the segment that holds the byte just before this LSN. An end position that
 * falls on a boundary belongs to the previous segment (its last byte is there).
 */
export function segmentBefore(lsn: Lsn, segmentSize: number): bigint {
  if (lsn <= 0n) throw new HindsightError('bad_input', 'LSN 0/0 has no previous byte');
  return segmentOf(lsn - 1n, segmentSize);
}

export function segmentStartLsn(segno: bigint, segmentSize: number): Lsn {
  assertSegmentSize(segmentSize);
  return segno * BigInt(segmentSize);
}

/** Exclusive end: the first byte of the next segment. */
export function segmentEndLsn(segno: bigint, segmentSize: number): Lsn {
  return segmentStartLsn(segno + 1n, segmentSize);
}

/** Byte offset of the LSN inside its segment. */
export function segmentOffset(lsn: Lsn, segmentSize: number): number {
  assertSegmentSize(segmentSize);
  return Number(lsn % BigInt(segmentSize));
}

function hex8(n: bigint | number): string {
  return BigInt(n).toString(16).toUpperCase().padStart(8, '0');
}

/** XLogFileName: 8 hex timeline + 8 hex (segno / segsPerXLogId) + 8 hex (segno % segsPerXLogId). */
export function segmentName(timeline: Timeline, segno: bigint, segmentSize: number): string {
  assertTimeline(timeline);
  const per = segmentsPerXLogId(segmentSize);
  if (segno < 0n || segno / per >= U32)
    throw new HindsightError('bad_input', `segment number ${segno} is out of range`);
  return `${hex8(timeline)}${hex8(segno / per)}${hex8(segno % per)}`;
}

export function segmentNameOfLsn(timeline: Timeline, lsn: Lsn, segmentSize: number): string {
  return segmentName(timeline, segmentOf(lsn, segmentSize), segmentSize);
}

export interface ParsedSegmentName {
  timeline: Timeline;
  segno: bigint;
}

/** XLogFromFileName; rejects names whose low part cannot exist at this segment size. */
export function parseSegmentName(name: string, segmentSize: number): ParsedSegmentName {
  const m = SEGMENT_NAME.exec(name);
  if (!m) throw new HindsightError('bad_input', `"${name}" is not a WAL segment name (24 upper-case hex digits)`);
  const per = segmentsPerXLogId(segmentSize);
  const timeline = Number.parseInt(m[1]!, 16);
  const log = BigInt(`0x${m[2]}`);
  const seg = BigInt(`0x${m[3]}`);
  if (seg >= per)
    throw new HindsightError(
      'bad_input',
      `"${name}" cannot exist with ${segmentSize}-byte segments (low part ≥ ${per})`,
    );
  assertTimeline(timeline);
  return { timeline, segno: log * per + seg };
}

export function isSegmentName(name: string): boolean {
  return SEGMENT_NAME.test(name);
}

export function isPartialName(name: string): boolean {
  return name.endsWith('.partial') && SEGMENT_NAME.test(name.slice(0, -'.partial'.length));
}

export function historyFileName(timeline: Timeline): string {
  assertTimeline(timeline);
  return `${hex8(timeline)}.history`;
}

/** The timeline a `.history` file describes, or null if the name is not one. */
export function parseHistoryFileName(name: string): Timeline | null {
  const m = HISTORY_NAME.exec(name);
  return m ? Number.parseInt(m[1]!, 16) : null;
}

function assertTimeline(timeline: Timeline): void {
  if (!Number.isInteger(timeline) || timeline < 1 || timeline > 0xffffffff) {
    throw new HindsightError('bad_input', `timeline ${timeline} is outside 1..FFFFFFFF`);
  }
}

/** One line of a timeline history file: the parent timeline and where the child branched off it. */
export interface TimelineSwitch {
  parentTimeline: Timeline;
  switchLsn: Lsn;
  reason: string;
}

/**
 * Parses a `<tli>.history` file (timeline.c readTimeLineHistory): lines of
 * `<parent tli>\t<switch lsn>\t<reason>`, with blank lines and `#` comments ignored. Entries are
 * in ascending timeline order; each switch LSN is where that parent timeline ends.
 */
export function parseHistoryFile(content: string): TimelineSwitch[] {
  const switches: TimelineSwitch[] = [];
  for (const [index, raw] of content.split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(\d+)\s+([0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8})(?:\s+(.*))?$/.exec(line);
    if (!m)
      throw new HindsightError(
        'bad_input',
        `timeline history line ${index + 1} "${line}" is not "<tli> <lsn> <reason>"`,
      );
    const parentTimeline = Number(m[1]);
    assertTimeline(parentTimeline);
    const previous = switches.at(-1);
    if (previous && parentTimeline <= previous.parentTimeline) {
      throw new HindsightError(
        'bad_input',
        `timeline history line ${index + 1}: timeline ${parentTimeline} is not after ${previous.parentTimeline}`,
      );
    }
    switches.push({ parentTimeline, switchLsn: parseLsn(m[2]!), reason: (m[3] ?? '').trim() });
  }
  return switches;
}

/** Formats switches back into history-file text (what PostgreSQL writes when it promotes). */
export function formatHistoryFile(switches: TimelineSwitch[]): string {
  return switches.map((s) => `${s.parentTimeline}\t${formatLsn(s.switchLsn)}\t${s.reason}\n`).join('');
}
