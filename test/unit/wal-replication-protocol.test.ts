import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseLsn } from '../../lib/wal/lsn.ts';
import {
  decodeServerMessage,
  decodeStandbyStatus,
  encodeStandbyStatus,
  fromPostgresTime,
  toPostgresTime,
} from '../../lib/wal/replication-protocol.ts';

/** A message laid out by hand from the protocol's documentation, byte by byte. */
function bytes(...parts: Array<string | bigint | number[] | Buffer>): Buffer {
  return Buffer.concat(
    parts.map((p) => {
      if (typeof p === 'string') return Buffer.from(p, 'latin1');
      if (typeof p === 'bigint') {
        const b = Buffer.alloc(8);
        b.writeBigInt64BE(p);
        return b;
      }
      return Buffer.from(p);
    }),
  );
}

describe('streaming replication messages', () => {
  it('times count microseconds from 2000-01-01 UTC', () => {
    assert.equal(toPostgresTime(Date.parse('2000-01-01T00:00:00Z')), 0n);
    assert.equal(toPostgresTime(Date.parse('2000-01-01T00:00:01.5Z')), 1_500_000n);
    assert.equal(fromPostgresTime(86_400_000_000n).toISOString(), '2000-01-02T00:00:00.000Z');
  });

  it("decodes XLogData ('w'): start, server end, send time and the WAL bytes", () => {
    const wal = Buffer.from('WAL bytes here');
    const message = decodeServerMessage(bytes('w', parseLsn('16/B374D848'), parseLsn('16/B3800000'), 1_000_000n, wal));
    assert.equal(message.kind, 'xlogdata');
    assert.ok(message.kind === 'xlogdata');
    assert.equal(message.start, 0x16b374d848n);
    assert.equal(message.serverEnd, 0x16b3800000n);
    assert.equal(message.sentAt.toISOString(), '2000-01-01T00:00:01.000Z');
    assert.ok(message.data.equals(wal));
  });

  it("decodes the primary keepalive ('k') with and without a reply request", () => {
    const asked = decodeServerMessage(bytes('k', parseLsn('0/3000060'), 0n, [1]));
    assert.deepEqual(asked, {
      kind: 'keepalive',
      serverEnd: 0x3000060n,
      sentAt: new Date('2000-01-01T00:00:00Z'),
      replyRequested: true,
    });
    const quiet = decodeServerMessage(bytes('k', parseLsn('0/3000060'), 0n, [0]));
    assert.equal(quiet.kind === 'keepalive' && quiet.replyRequested, false);
  });

  it('refuses a message it does not know, or one cut short, naming what it got', () => {
    assert.throws(() => decodeServerMessage(bytes('x', 0n)), /unexpected CopyData message type "x"/);
    assert.throws(() => decodeServerMessage(bytes('w', 0n, 0n)), /XLogData message of 17 bytes/);
    assert.throws(() => decodeServerMessage(bytes('k', 0n)), /keepalive message of 9 bytes, expected 18/);
    assert.throws(() => decodeServerMessage(Buffer.alloc(0)), /unexpected CopyData message type ""/);
  });

  it("encodes the standby status update ('r') exactly as the server reads it", () => {
    const at = Date.parse('2026-12-07T03:00:00Z');
    const flush = parseLsn('16/B374D848');
    const encoded = encodeStandbyStatus({ write: flush + 10n, flush, apply: flush - 5n, at, replyRequested: true });
    assert.equal(encoded.length, 34);
    const expected = bytes('r', flush + 10n, flush, flush - 5n, toPostgresTime(at), [1]);
    assert.ok(encoded.equals(expected), `${encoded.toString('hex')} != ${expected.toString('hex')}`);
    assert.deepEqual(decodeStandbyStatus(encoded), {
      write: flush + 10n,
      flush,
      apply: flush - 5n,
      at,
      replyRequested: true,
    });
    assert.equal(encodeStandbyStatus({ write: 0n, flush: 0n, apply: 0n })[33], 0);
    assert.throws(() => decodeStandbyStatus(encoded.subarray(0, 20)), /not a standby status update/);
  });
});
