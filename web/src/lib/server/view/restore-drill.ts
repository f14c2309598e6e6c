/** The database page's restore drill: its settings, its newest drill, and the measured times to chart. */
import type { RestoreDrillRecord, RestoreDrillSettings } from '../../../../../lib/catalog/restore-drills.ts';
import type { Services } from '../../../../../services/index.ts';
import type { ActorRef } from './types.ts';

export interface ConsoleDrillView {
  settings: RestoreDrillSettings | null;
  last: RestoreDrillRecord | null;
  /** The last 30 successful drills' time to usable, oldest first: the restore time on the target's hardware. */
  points: Array<{ id: string; finishedAt: string; seconds: number; target: string }>;
}

export async function drillView(services: Services, actor: ActorRef, name: string): Promise<ConsoleDrillView> {
  const [settings, drills] = await Promise.all([
    services.restoreDrills.settings(actor, name),
    services.restoreDrills.list(actor, name, 60),
  ]);
  const points = drills
    .filter((d) => d.status === 'successful' && d.finishedAt && d.timeToUsableSeconds !== null)
    .slice(0, 30)
    .reverse()
    .map((d) => ({
      id: d.id,
      finishedAt: d.finishedAt!,
      seconds: d.timeToUsableSeconds!,
      target: d.target ? `${d.target.host}:${d.target.port}` : '?',
    }));
  return { settings, last: drills[0] ?? null, points };
}
