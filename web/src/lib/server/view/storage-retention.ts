import { describePolicy } from '../../../../../lib/retention/planner.ts';
import { parseRetentionPolicy, type RetentionPolicy } from '../../../../../lib/retention/policy.ts';
import type { Services } from '../../../../../services/index.ts';
import type { ActorRef } from './types.ts';

/** One storage of a database with its own retention policy (null: it follows the database's). */
export interface ConsoleStorageRetention {
  storage: string;
  policy: RetentionPolicy | null;
  summary: string | null;
}

/** The dry run with a policy tried for one storage: what that storage keeps and deletes, and why. */
export interface ConsoleStoragePlan {
  storage: string;
  policy: RetentionPolicy | null;
  summary: string;
  keep: Array<{ id: string; reasons: string[] }>;
  delete: Array<{ id: string; reason: string }>;
  /** Backups the run would delete whole (no storage keeps a copy). */
  deleteWhole: string[];
}

export interface ConsoleStorageRetentionServices {
  storageRetention(actor: ActorRef, database: string): Promise<ConsoleStorageRetention[]>;
  /** `policy` null: what the storage does when it follows the database's policy. Nothing is deleted. */
  storageRetentionPreview(
    actor: ActorRef,
    database: string,
    storage: string,
    policy: unknown,
  ): Promise<ConsoleStoragePlan>;
  saveStorageRetention(actor: ActorRef, database: string, storage: string, policy: unknown): Promise<void>;
}

const parsedOrNull = (raw: unknown) => (raw === null || raw === undefined ? null : parseRetentionPolicy(raw));

/** The per-storage rows of the database page's retention panel, through the retention service. */
export function createStorageRetentionServices(services: Services): ConsoleStorageRetentionServices {
  return {
    async storageRetention(actor, database) {
      const rows = await services.retention.storagePolicies(actor, database);
      return rows.map((r) => {
        const policy = parsedOrNull(r.retentionPolicy);
        return { storage: r.storageName, policy, summary: policy ? describePolicy(policy) : null };
      });
    },

    async storageRetentionPreview(actor, database, storage, raw) {
      const policy = parsedOrNull(raw);
      const { plan } = await services.retention.plan(actor, database, policy, storage);
      const mine = plan.storages?.find((s) => s.storage === storage);
      return {
        storage,
        policy,
        summary: mine?.summary ?? plan.summary,
        keep: mine?.keep ?? plan.keep,
        delete: mine?.delete ?? plan.delete,
        deleteWhole: plan.delete.map((d) => d.id),
      };
    },

    async saveStorageRetention(actor, database, storage, raw) {
      await services.retention.setStoragePolicy(actor, database, storage, parsedOrNull(raw));
    },
  };
}
