import type { VerificationReport, VerificationStage } from './report.ts';

/** Records stages into a report as they start and end, publishing each change. */
export function stageRecorder(report: VerificationReport, publish: () => void) {
  let current: VerificationStage | undefined;
  const end = (ok: boolean, detail?: string) => {
    const record = report.stages.at(-1);
    if (record) Object.assign(record, { finishedAt: new Date().toISOString(), ok }, detail ? { detail } : {});
    current = undefined;
    publish();
  };
  return {
    current: () => current,
    begin(stage: VerificationStage) {
      current = stage;
      report.stages.push({ stage, startedAt: new Date().toISOString(), finishedAt: null, ok: null });
      publish();
    },
    end,
    /** The reason a person reads first; ends the running stage as failed. */
    failWith(reason: string) {
      report.reason = reason;
      if (current) end(false, reason);
    },
  };
}
