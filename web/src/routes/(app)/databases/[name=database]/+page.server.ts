import { error, fail } from '@sveltejs/kit';
import { header } from '#lib/header.ts';
import { services } from '#lib/server/services.ts';
import { actorOf, message, statusOf } from '#lib/server/actor.ts';
import { previewCron, spreadSecond } from '#lib/cron-preview.ts';
import type { Actions, PageServerLoad } from './$types';

const field = (form: FormData, name: string): string => {
  const value = form.get(name);
  return typeof value === 'string' ? value.trim() : '';
};

/** A GFS tier or a count from the form: blank means "not set", anything else must be a number. */
const numberField = (form: FormData, name: string): number | undefined => {
  const text = field(form, name);
  return text === '' ? undefined : Number(text);
};

/** The policy as the form describes it; parseRetentionPolicy in the service layer says what is wrong with it. */
function policyFromForm(form: FormData): Record<string, unknown> {
  const kind = field(form, 'kind');
  if (kind === 'time') return { kind, keepDays: numberField(form, 'keepDays') };
  if (kind === 'count') return { kind, keepLast: numberField(form, 'keepLast') };
  const policy: Record<string, unknown> = { kind, timezone: field(form, 'policyTimezone') || 'UTC' };
  for (const tier of ['hourly', 'daily', 'weekly', 'monthly', 'yearly']) {
    const n = numberField(form, tier);
    if (n !== undefined) policy[tier] = n;
  }
  return policy;
}

const NOT_JSON = 'The storage policy is not JSON (e.g. {"kind":"count","keepLast":7}; blank follows the database).';

/** A storage's policy as typed: JSON, or blank (null) to follow the database's policy; undefined when not JSON. */
function storagePolicyOf(text: string): unknown {
  if (text === '') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** The per-storage forms' common part: read storage and policy, answer with them, an error or `work`'s result. */
async function storageRetentionAction<T extends object>(
  { request, locals }: { request: Request; locals: App.Locals },
  work: (actor: ReturnType<typeof actorOf>, storage: string, policy: unknown) => Promise<T>,
) {
  const form = await request.formData();
  const [storage, policyText] = [field(form, 'storage'), field(form, 'policy')];
  const answer = { action: 'storageRetention' as const, storage, policyText };
  const policy = storagePolicyOf(policyText);
  if (policy === undefined) return fail(400, { ...answer, error: NOT_JSON });
  try {
    return { ...answer, ...(await work(actorOf(locals), storage, policy)) };
  } catch (err) {
    return fail(statusOf(err), { ...answer, error: message(err) });
  }
}

export const load: PageServerLoad = async ({ params, locals }) => {
  const actor = actorOf(locals);
  let view;
  try {
    view = await services().database.view(actor, params.name);
  } catch (err) {
    const status = statusOf(err);
    error(status === 400 ? 503 : status, message(err));
  }
  const { schedule, timezone, name } = view.database;
  // At the database's own second, as Temporal runs them (lib/schedule/spread.ts).
  const nextRuns = schedule ? previewCron(schedule, timezone, new Date(), 5, spreadSecond(name)) : null;
  const [pitr, storageRetention] = await Promise.all([
    services().pitr.panel(actor, params.name),
    services().database.storageRetention(actor, params.name),
  ]);
  return { view, nextRuns, pitr, storageRetention, header: header(view.temporalUiUrl, view.jobs.length > 0) };
};

export const actions = {
  test: async ({ params, locals }) => {
    try {
      const check = await services().setup.testDatabase(actorOf(locals), params.name);
      return { action: 'test' as const, check };
    } catch (err) {
      return fail(statusOf(err), { action: 'test' as const, error: message(err) });
    }
  },

  backup: async ({ params, locals }) => {
    try {
      const started = await services().backups.start(actorOf(locals), params.name, 'manual');
      return { action: 'backup' as const, backupId: started.backupId };
    } catch (err) {
      return fail(statusOf(err), { action: 'backup' as const, error: message(err) });
    }
  },

  verify: async ({ params, locals }) => {
    try {
      const requested = await services().verifications.request(actorOf(locals), params.name);
      return { action: 'verify' as const, verificationId: requested.verificationId, backupId: requested.backupId };
    } catch (err) {
      return fail(statusOf(err), { action: 'verify' as const, error: message(err) });
    }
  },

  cancel: async ({ params, request, locals }) => {
    const backupId = field(await request.formData(), 'backupId');
    if (!backupId) return fail(400, { action: 'cancel' as const, error: 'No backup was named to cancel.' });
    try {
      await services().database.cancelBackup(actorOf(locals), params.name, backupId);
      return { action: 'cancel' as const, backupId };
    } catch (err) {
      return fail(statusOf(err), { action: 'cancel' as const, backupId, error: message(err) });
    }
  },

  schedule: async ({ params, request, locals }) => {
    const form = await request.formData();
    const cron = field(form, 'cron');
    const timezone = field(form, 'timezone') || 'UTC';
    if (form.has('remove')) {
      try {
        await services().database.setSchedule(actorOf(locals), params.name, null, timezone);
        return { action: 'schedule' as const, removed: true, cron: '', timezone };
      } catch (err) {
        return fail(statusOf(err), { action: 'schedule' as const, cron, timezone, error: message(err) });
      }
    }
    // The same check the browser's live preview makes: nothing is saved unless it has next runs.
    const preview = previewCron(cron, timezone);
    if (!preview.ok) return fail(400, { action: 'schedule' as const, cron, timezone, error: preview.error });
    try {
      await services().database.setSchedule(actorOf(locals), params.name, cron, timezone);
      return { action: 'schedule' as const, saved: true, cron, timezone, runs: preview.runs };
    } catch (err) {
      return fail(statusOf(err), { action: 'schedule' as const, cron, timezone, error: message(err) });
    }
  },

  retentionPreview: async ({ params, request, locals }) => {
    const policy = policyFromForm(await request.formData());
    try {
      const plan = await services().database.retentionPreview(actorOf(locals), params.name, policy);
      return { action: 'retention' as const, policy, plan };
    } catch (err) {
      return fail(statusOf(err), { action: 'retention' as const, policy, error: message(err) });
    }
  },

  retentionSave: async ({ params, request, locals }) => {
    const text = field(await request.formData(), 'policy');
    let policy: unknown;
    try {
      policy = JSON.parse(text);
    } catch {
      return fail(400, {
        action: 'retention' as const,
        error: 'Preview the policy first, then save it from the preview.',
      });
    }
    try {
      await services().database.saveRetention(actorOf(locals), params.name, policy);
      return { action: 'retention' as const, saved: true };
    } catch (err) {
      return fail(statusOf(err), { action: 'retention' as const, error: message(err) });
    }
  },

  // A storage's own policy: "Preview" tries it (blank: follow the database), the preview offers "Save".
  retentionStoragePreview: (event) =>
    storageRetentionAction(event, async (actor, storage, policy) => ({
      plan: await services().database.storageRetentionPreview(actor, event.params.name, storage, policy),
    })),

  retentionStorageSave: (event) =>
    storageRetentionAction(event, async (actor, storage, policy) => {
      await services().database.saveStorageRetention(actor, event.params.name, storage, policy);
      return { saved: true };
    }),
} satisfies Actions;
