import { applyAction, type SubmitFunction } from '$app/forms';
import { invalidateAll } from '$app/navigation';

/** What the copy actions (./copies/+page.server.ts) answer. */
export interface CopyAnswer {
  action: 'copy' | 'copyAll';
  database: string;
  backupId: string;
  storage: string;
  workflowIds?: string[];
  error?: string;
}

/**
 * A copy form posts to another route (./copies), whose answer SvelteKit would not hand to this
 * page: `enhance` keeps it here instead, as `answer`, and reloads the page's data after a success.
 */
export class CopyForm {
  active = $state(false);
  answer = $state<CopyAnswer | null>(null);

  enhance: SubmitFunction = () => {
    this.active = true;
    return async ({ result }) => {
      try {
        if (result.type === 'success' || result.type === 'failure') {
          this.answer = (result.data ?? null) as CopyAnswer | null;
          if (result.type === 'success') await invalidateAll();
        } else await applyAction(result);
      } finally {
        this.active = false;
      }
    };
  };
}
