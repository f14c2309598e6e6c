/** The actions the storages list and a storage's edit page share. */
import { fail } from '@sveltejs/kit';
import { services } from '#lib/server/services.ts';
import { message } from '#lib/server/actor.ts';
import { actionOn } from '#lib/server/form.ts';

/** "Test connection" on a saved storage: write, read back and delete a small object with its stored settings. */
export const testStoredStorage = actionOn(
  'storage',
  async (actor, name) => {
    const check = await services().setup.testStorage(actor, name);
    return check.ok ? { test: { storage: name, ...check } } : fail(502, { test: { storage: name, ...check } });
  },
  (name, err) => ({ test: { storage: name, ok: false, detail: message(err), elapsedMs: 0 } }),
);
