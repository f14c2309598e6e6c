/**
 * Where a point-in-time restore spends its time: the restore activity marks the end of each of its
 * stages and logs them all once, when it ends ("restore stages"), so that an operator (and
 * bench/pitr-vs-pgbackrest.ts) can tell a slow extraction from a slow replay or a slow promotion.
 * Stages run one after the other; the pieces inside one (download, decryption, `zstd -d`, `tar -x`)
 * overlap in a pipeline and are not told apart here.
 */
export const RESTORE_STAGES = [
  /** The directory made empty and handed to the server's user; the chain held against retention. */
  'destination',
  /** Every member of the chain downloaded, decrypted, decompressed and extracted (and combined). */
  'extract',
  /** restore_command's fetch server started, the allow-listed configuration written. */
  'configure',
  /** pg_ctl start returned: the postmaster is starting. */
  'start',
  /** The server first answered a connection (hot standby: consistent), still in recovery. */
  'consistent',
  /** The server answered that it is out of recovery: replay, end-of-recovery checkpoint, promotion. */
  'promoted',
  /** Kept-server facts, extraction into a target, sandbox removal: what follows promotion. */
  'finish',
] as const;

export type RestoreStage = (typeof RESTORE_STAGES)[number];

export interface StageClock {
  /** Ends `stage` now (the first mark of a stage counts); its duration runs from the previous mark. */
  mark(stage: RestoreStage): void;
  /** Milliseconds per stage marked so far, in order, and their sum. */
  report(): { stagesMs: Partial<Record<RestoreStage, number>>; totalMs: number };
}

export function stageClock(now: () => number = () => performance.now()): StageClock {
  const started = now();
  let last = started;
  const stagesMs: Partial<Record<RestoreStage, number>> = {};
  return {
    mark(stage) {
      if (stage in stagesMs) return;
      const at = now();
      stagesMs[stage] = Math.round(at - last);
      last = at;
    },
    report: () => ({ stagesMs: { ...stagesMs }, totalMs: Math.round(last - started) }),
  };
}
