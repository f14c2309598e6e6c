import type { SubmitFunction } from '$app/forms';

/**
 * A form's "busy" state for `use:enhance={busy.enhance}`: true from the submit until the page has
 * taken the answer, so its buttons can say "Starting…" and refuse a second click.
 * `reset: false` keeps what the user typed (schedule and retention editors).
 */
export function submitting(options: { reset?: boolean } = {}): { readonly active: boolean; enhance: SubmitFunction } {
  let active = $state(false);
  return {
    get active() {
      return active;
    },
    enhance: () => {
      active = true;
      return async ({ update }) => {
        try {
          await update({ reset: options.reset ?? true });
        } finally {
          active = false;
        }
      };
    },
  };
}
