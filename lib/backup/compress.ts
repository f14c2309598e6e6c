/**
 * How a logical backup is compressed. pg_dump can compress inside its archive (gzip, or zstd from
 * pg_dump 16), but it does so on its own thread, in turn with reading rows from the server. Before
 * 16 that is gzip, the slow part of a dump: writing the archive uncompressed (`-Z0`) into a `zstd`
 * process compresses on another core while pg_dump keeps reading, with less CPU and a smaller
 * output. From 16, pg_dump's own zstd 5 measured smaller (the zstd program's stream came out 2.6 %
 * larger) and cheaper in CPU, so it stays inside (docs/performance.md has the figures). The
 * manifest records which way a backup was written (`tool.compression.where`); manifests without it
 * were compressed inside.
 */
import { DUMP_ZSTD_LEVEL, dumpCompressionFor } from '../pg/tools.ts';

export type CompressionWhere = 'inside' | 'outside';

/** `auto` is the measured default; `inside` writes the archive as Hindsight did before compressing outside. */
export type CompressionChoice = 'auto' | CompressionWhere;

export interface DumpCompressionPlan {
  algorithm: 'zstd' | 'gzip';
  level: number;
  where: CompressionWhere;
  /** pg_dump's own compression option. */
  pgDumpFlag: string;
  /** The zstd program's arguments (outside only): level, worker threads, output to stdout. */
  zstdArgs: string[] | undefined;
}

/**
 * zstd with worker threads overlaps its own reading and compressing; `-T2` measured faster than a
 * single thread beside pg_dump on two cores, and zstd caps the threads at what it is given.
 */
export const OUTSIDE_ZSTD_THREADS = 2;

/** pg_dump 16 brought zstd inside the archive. */
const ZSTD_INSIDE_FROM = 16;

/** What the measurements chose, per pg_dump major: outside where pg_dump would gzip, inside where it has zstd. */
export function defaultWhere(pgDumpMajor: number): CompressionWhere {
  return pgDumpMajor < ZSTD_INSIDE_FROM ? 'outside' : 'inside';
}

/**
 * The compression of a dump by `pgDumpMajor`. Inside is pg_dump's own (lib/pg/tools.ts
 * dumpCompressionFor: gzip 5 before 16, zstd 5 from 16); outside is always zstd 5 over `-Z0`.
 */
export function dumpCompressionPlan(pgDumpMajor: number, choice: CompressionChoice = 'auto'): DumpCompressionPlan {
  const where = choice === 'auto' ? defaultWhere(pgDumpMajor) : choice;
  if (where === 'inside') {
    const inside = dumpCompressionFor(pgDumpMajor);
    return { algorithm: inside.name, level: inside.level, where, pgDumpFlag: inside.flag, zstdArgs: undefined };
  }
  return {
    algorithm: 'zstd',
    level: DUMP_ZSTD_LEVEL,
    where,
    pgDumpFlag: '--compress=0',
    zstdArgs: [`-${DUMP_ZSTD_LEVEL}`, `-T${OUTSIDE_ZSTD_THREADS}`, '-q', '-c'],
  };
}

/** The manifest's `tool.compression` for a plan. */
export function manifestCompression(plan: DumpCompressionPlan): {
  algorithm: 'zstd' | 'gzip';
  level: number;
  where: CompressionWhere;
} {
  return { algorithm: plan.algorithm, level: plan.level, where: plan.where };
}
