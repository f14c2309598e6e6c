/**
 * The messages of PostgreSQL's streaming replication protocol that a physical WAL receiver
 * exchanges inside CopyBoth mode (PostgreSQL docs, "Streaming Replication Protocol",
 * START_REPLICATION): XLogData ('w') and the primary keepalive ('k') from the server, the standby
 * status update ('r') to it. All integers are big-endian; times are microseconds since
 * 2000-01-01 00:00 UTC, PostgreSQL's epoch.
 */
import type { Lsn } from './lsn.ts';

/** 2000-01-01T00:00:00Z in Unix milliseconds. */
const POSTGRES_EPOCH_MS = 946_684_800_000n;

export function toPostgresTime(unixMs: number): bigint {
  return (BigInt(Math.floor(unixMs)) - POSTGRES_EPOCH_MS) * 1000n;
}

export function fromPostgresTime(micros: bigint): Date {
  return new Date(Number(micros / 1000n + POSTGRES_EPOCH_MS));
}

/** 'w': WAL bytes starting at `start`; `serverEnd` is the server's current end of WAL. */
export interface XLogData {
  kind: 'xlogdata';
  start: Lsn;
  serverEnd: Lsn;
  sentAt: Date;
  data: Buffer;
}

/** 'k': the server's end of WAL; `replyRequested` asks for a status update at once (or be disconnected). */
export interface PrimaryKeepalive {
  kind: 'keepalive';
  serverEnd: Lsn;
  sentAt: Date;
  replyRequested: boolean;
}

export type ServerCopyMessage = XLogData | PrimaryKeepalive;

/** 'r': how far the standby has written, flushed and applied WAL; the server waits on these for synchronous commits. */
export interface StandbyStatus {
  write: Lsn;
  flush: Lsn;
  apply: Lsn;
  /** Unix milliseconds; defaults to now. */
  at?: number;
  replyRequested?: boolean;
}

const XLOGDATA_HEADER = 1 + 8 + 8 + 8;
const KEEPALIVE_LENGTH = 1 + 8 + 8 + 1;
const STATUS_LENGTH = 1 + 8 + 8 + 8 + 8 + 1;

/** Decodes one CopyData payload from the server; anything else is a protocol error, named. */
export function decodeServerMessage(chunk: Buffer): ServerCopyMessage {
  const tag = chunk.length > 0 ? String.fromCharCode(chunk[0]!) : '';
  if (tag === 'w') {
    if (chunk.length < XLOGDATA_HEADER)
      throw new Error(`replication protocol: XLogData message of ${chunk.length} bytes is shorter than its header`);
    return {
      kind: 'xlogdata',
      start: chunk.readBigUInt64BE(1),
      serverEnd: chunk.readBigUInt64BE(9),
      sentAt: fromPostgresTime(chunk.readBigInt64BE(17)),
      data: chunk.subarray(XLOGDATA_HEADER),
    };
  }
  if (tag === 'k') {
    if (chunk.length < KEEPALIVE_LENGTH)
      throw new Error(`replication protocol: keepalive message of ${chunk.length} bytes, expected ${KEEPALIVE_LENGTH}`);
    return {
      kind: 'keepalive',
      serverEnd: chunk.readBigUInt64BE(1),
      sentAt: fromPostgresTime(chunk.readBigInt64BE(9)),
      replyRequested: chunk[17] === 1,
    };
  }
  throw new Error(`replication protocol: unexpected CopyData message type ${JSON.stringify(tag)} from the server`);
}

/** Encodes a standby status update ('r') as the payload of one CopyData message. */
export function encodeStandbyStatus(status: StandbyStatus): Buffer {
  const buf = Buffer.alloc(STATUS_LENGTH);
  buf.write('r', 0, 'latin1');
  buf.writeBigUInt64BE(status.write, 1);
  buf.writeBigUInt64BE(status.flush, 9);
  buf.writeBigUInt64BE(status.apply, 17);
  buf.writeBigInt64BE(toPostgresTime(status.at ?? Date.now()), 25);
  buf.writeUInt8(status.replyRequested ? 1 : 0, 33);
  return buf;
}

/** Decodes a standby status update: what the server reads (kept for tests and diagnostics). */
export function decodeStandbyStatus(chunk: Buffer): Required<StandbyStatus> {
  if (chunk.length !== STATUS_LENGTH || chunk[0] !== 'r'.charCodeAt(0))
    throw new Error(`replication protocol: not a standby status update (${chunk.length} bytes)`);
  return {
    write: chunk.readBigUInt64BE(1),
    flush: chunk.readBigUInt64BE(9),
    apply: chunk.readBigUInt64BE(17),
    at: fromPostgresTime(chunk.readBigInt64BE(25)).getTime(),
    replyRequested: chunk[33] === 1,
  };
}
