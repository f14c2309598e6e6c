/** /metrics for PITR drills (docs/pitr.md, "Drills"): per server, the proven-up-to time and the last outcome. */
import { Gauge, type Registry } from 'prom-client';
import type { DrillSummary } from '../lib/catalog/pitr-drills.ts';

/** Gauges read at each scrape from the catalog's drill summaries; a failed read leaves them empty. */
export function registerDrillGauges(
  registry: Registry,
  drills: () => Promise<DrillSummary[]>,
  log?: (msg: string) => void,
): void {
  let pending: { at: number; read: Promise<DrillSummary[]> } | undefined;
  const snapshot = () => {
    if (!pending || Date.now() - pending.at > 1000)
      pending = {
        at: Date.now(),
        read: drills().catch((error: unknown) => {
          log?.(`metrics: PITR drills could not be read: ${(error as Error).message}`);
          return [];
        }),
      };
    return pending.read;
  };
  new Gauge({
    name: 'hindsight_pitr_drill_proven_up_to_timestamp_seconds',
    help: "The latest target time a passed PITR drill recovered the server's archive to (absent until one passed).",
    labelNames: ['server'],
    registers: [registry],
    async collect() {
      const all = await snapshot();
      this.reset();
      for (const d of all) if (d.provenUpTo) this.set({ server: d.server }, d.provenUpTo.getTime() / 1000);
    },
  });
  new Gauge({
    name: 'hindsight_pitr_drill_last_passed',
    help: "1 when the server's newest PITR drill passed, 0 when it failed (absent before the first drill).",
    labelNames: ['server'],
    registers: [registry],
    async collect() {
      const all = await snapshot();
      this.reset();
      for (const d of all) if (d.lastOutcome) this.set({ server: d.server }, d.lastOutcome === 'passed' ? 1 : 0);
    },
  });
  new Gauge({
    name: 'hindsight_pitr_drill_last_timestamp_seconds',
    help: "When the server's newest PITR drill was recorded.",
    labelNames: ['server'],
    registers: [registry],
    async collect() {
      const all = await snapshot();
      this.reset();
      for (const d of all) if (d.lastAt) this.set({ server: d.server }, d.lastAt.getTime() / 1000);
    },
  });
}
