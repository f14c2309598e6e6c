/**
 * The measured figures a point-in-time restore reports in its result: how long it took to give a
 * usable server, where that time went (lib/pitr/stage-clock.ts), how much WAL recovery replayed and
 * how fast. Plain JSON, so that the workflow result, the API, the CLI and the console show the same.
 */
import { formatBinaryBytes } from '../bytes.ts';
import { parseLsn } from '../wal/lsn.ts';
import type { RestoreStage } from './stage-clock.ts';

export interface RestoreFigures {
  /** From the start of the restore activity to promotion: when the server was usable. */
  usableAfterMs: number;
  /** Everything the activity measured, what follows promotion included. */
  totalMs: number;
  stagesMs: Partial<Record<RestoreStage, number>>;
  /** The end LSN of recovery minus the base backup's start LSN: the WAL recovery read and applied. */
  walBytesReplayed: number | null;
  /** From pg_ctl start to promotion (stages start, consistent and promoted). */
  recoveryMs: number;
  /** walBytesReplayed over recoveryMs; null when either is unknown or the recovery took no measurable time. */
  walBytesPerSecond: number | null;
}

/** The stages whose time is recovery proper: the server running and replaying, up to promotion. */
const RECOVERY_STAGES: readonly RestoreStage[] = ['start', 'consistent', 'promoted'];
const UNTIL_USABLE: readonly RestoreStage[] = ['destination', 'extract', 'configure', ...RECOVERY_STAGES];

const sum = (stagesMs: Partial<Record<RestoreStage, number>>, stages: readonly RestoreStage[]) =>
  stages.reduce((total, stage) => total + (stagesMs[stage] ?? 0), 0);

export function restoreFigures(input: {
  stagesMs: Partial<Record<RestoreStage, number>>;
  totalMs: number;
  /** The (first, full) base backup's start LSN: where replay begins. */
  startLsn: string | null;
  reachedLsn: string;
}): RestoreFigures {
  const { stagesMs, totalMs } = input;
  const recoveryMs = sum(stagesMs, RECOVERY_STAGES);
  const replayed = input.startLsn === null ? null : parseLsn(input.reachedLsn) - parseLsn(input.startLsn);
  const walBytesReplayed = replayed === null || replayed < 0n ? null : Number(replayed);
  const walBytesPerSecond =
    walBytesReplayed === null || recoveryMs <= 0 ? null : Math.round((walBytesReplayed * 1000) / recoveryMs);
  return {
    usableAfterMs: sum(stagesMs, UNTIL_USABLE),
    totalMs,
    stagesMs,
    walBytesReplayed,
    recoveryMs,
    walBytesPerSecond,
  };
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** One line for people: "usable after 12.3 s (extract 2.0 s, …); WAL replayed 48 MiB at 20 MiB/s over 2.4 s of recovery". */
export function describeFigures(f: RestoreFigures): string {
  const stages = Object.entries(f.stagesMs)
    .map(([stage, ms]) => `${stage} ${seconds(ms ?? 0)}`)
    .join(', ');
  const wal =
    f.walBytesReplayed === null
      ? 'WAL replayed: unknown (the base backup has no start LSN)'
      : `WAL replayed ${formatBinaryBytes(f.walBytesReplayed)}${f.walBytesPerSecond === null ? '' : ` at ${formatBinaryBytes(f.walBytesPerSecond)}/s`} over ${seconds(f.recoveryMs)} of recovery`;
  return `usable after ${seconds(f.usableAfterMs)} (${stages}); ${wal}`;
}
