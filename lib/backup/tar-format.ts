/**
 * The tar a parallel logical backup is stored as (docs/backup-format.md, "Directory archives"):
 * POSIX ustar entries of regular files with plain names (no directories, no links), sizes above
 * ustar's 8 GiB in GNU base-256 (which GNU tar, bsdtar and Python's tarfile read), then two zero
 * blocks. Only what pg_dump's directory format writes is ever produced or accepted.
 */
import { HindsightError } from '../errors.ts';

export const BLOCK = 512;

/** pg_dump's directory archive holds `toc.dat`, `<dumpId>.dat[.gz|.zst|.lz4]`, `blobs*.toc`, `blob_*.dat*`. */
export const ENTRY_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$/;

/** The largest size ustar's 11 octal digits hold. */
const OCTAL_SIZE_LIMIT = 8 ** 11 - 1;

function writeOctal(block: Buffer, offset: number, length: number, value: number): void {
  block.write(`${value.toString(8).padStart(length - 1, '0')}\0`, offset, length, 'latin1');
}

/** GNU base-256: the first byte's high bit set, the value big-endian in the rest of the field. */
function writeBase256(block: Buffer, offset: number, length: number, value: number): void {
  let rest = BigInt(value);
  for (let i = offset + length - 1; i > offset; i--) {
    block[i] = Number(rest & 0xffn);
    rest >>= 8n;
  }
  block[offset] = 0x80;
}

function headerChecksum(block: Buffer): number {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
  return sum;
}

/** The header block of one regular file. */
export function tarHeader(name: string, size: number, mtimeSeconds: number): Buffer {
  if (!ENTRY_NAME.test(name)) throw new HindsightError('bad_input', `tar entry "${name}" is not a plain file name`);
  const block = Buffer.alloc(BLOCK);
  block.write(name, 0, 100, 'latin1');
  writeOctal(block, 100, 8, 0o600);
  writeOctal(block, 108, 8, 0);
  writeOctal(block, 116, 8, 0);
  if (size > OCTAL_SIZE_LIMIT) writeBase256(block, 124, 12, size);
  else writeOctal(block, 124, 12, size);
  writeOctal(block, 136, 12, Math.max(0, Math.floor(mtimeSeconds)));
  block[156] = 0x30; // '0': a regular file
  block.write('ustar\0', 257, 6, 'latin1');
  block.write('00', 263, 2, 'latin1');
  block.write(`${headerChecksum(block).toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
  return block;
}

/** Zeros that bring an entry of `size` bytes to a whole block. */
export function tarPadding(size: number): Buffer {
  const rest = size % BLOCK;
  return Buffer.alloc(rest === 0 ? 0 : BLOCK - rest);
}

/** The end of the archive. */
export const tarTrailer = (): Buffer => Buffer.alloc(2 * BLOCK);

export interface TarEntryHeader {
  name: string;
  size: number;
}

function readNumber(block: Buffer, offset: number, length: number, what: string): number {
  if (block[offset]! & 0x80) {
    let value = 0n;
    for (let i = offset + 1; i < offset + length; i++) value = (value << 8n) | BigInt(block[i]!);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new HindsightError('integrity', `tar: ${what} is too large`);
    return Number(value);
  }
  const text = block
    .subarray(offset, offset + length)
    .toString('latin1')
    .replace(/[\0 ]+$/, '')
    .trim();
  if (!/^[0-7]*$/.test(text)) throw new HindsightError('integrity', `tar: ${what} "${text}" is not a number`);
  return text === '' ? 0 : Number.parseInt(text, 8);
}

/**
 * Reads one header block: undefined for a zero block (the end), else the entry, refused unless it
 * is a regular file with a plain name and a header whose checksum holds.
 */
export function parseTarHeader(block: Buffer): TarEntryHeader | undefined {
  if (block.every((byte) => byte === 0)) return undefined;
  const stored = readNumber(block, 148, 8, 'header checksum');
  if (stored !== headerChecksum(block)) throw new HindsightError('integrity', 'tar: a header checksum does not match');
  const name = block.subarray(0, 100).toString('latin1').replace(/\0.*$/s, '');
  const type = block[156];
  if (type !== 0x30 && type !== 0)
    throw new HindsightError('integrity', `tar: entry "${name}" is not a regular file (type ${String(type)})`);
  if (block.subarray(345, 500).some((byte) => byte !== 0) || !ENTRY_NAME.test(name))
    throw new HindsightError('integrity', `tar: entry "${name}" is not a plain file name of a pg_dump directory`);
  return { name, size: readNumber(block, 124, 12, `size of "${name}"`) };
}
