import type { SubmitFunction } from '$app/forms';
import { invalidateAll } from '$app/navigation';
import type { PitrFormValues } from './pitr/form.ts';

/** What a PITR action answered: a refusal (with what was typed), or what was done. */
export interface PitrResult {
  action: string;
  error?: string;
  values?: PitrFormValues;
  /** `on`, `off`, `saved` or `base-backup`, as the action's redirect says. */
  done?: string | null;
  baseBackup?: string | null;
}

/** One value of a redirect's query (`?pitr=on&baseBackup=…`). */
function queryValue(location: string, name: string): string | null {
  const match = new RegExp(`[?&]${name}=([^&#]*)`).exec(location);
  return match ? decodeURIComponent(match[1]!) : null;
}

/**
 * `use:enhance` for the PITR panel's forms, which post to the pitr/ subroute: a refusal stays on
 * the page as the panel's answer, a done action reloads the page's data (invalidateAll) instead of
 * following the redirect, so the panel shows the new state where it is.
 */
export function pitrSubmitter(onResult: (result: PitrResult) => void) {
  let active = $state<string | null>(null);
  return {
    get active() {
      return active;
    },
    enhance(action: string): SubmitFunction {
      return () => {
        active = action;
        return async ({ result }) => {
          try {
            if (result.type === 'failure') onResult({ action, ...(result.data as Omit<PitrResult, 'action'>) });
            else if (result.type === 'error')
              onResult({ action, error: String(result.error?.message ?? result.error) });
            else if (result.type === 'redirect') {
              await invalidateAll();
              onResult({
                action,
                done: queryValue(result.location, 'pitr'),
                baseBackup: queryValue(result.location, 'base'),
              });
            } else await invalidateAll();
          } finally {
            active = null;
          }
        };
      };
    },
  };
}

export type PitrSubmitter = ReturnType<typeof pitrSubmitter>;
