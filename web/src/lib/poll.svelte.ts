import { invalidateAll } from '$app/navigation';

/**
 * Reloads the page's data every `ms` while `active()` is true. Chained timeouts rather than an
 * interval: a slow answer never stacks up concurrent reloads, and polling stops once the work ends.
 * Call it during component initialisation.
 */
export function pollWhile(active: () => boolean, ms: number): void {
  $effect(() => {
    if (!active()) return;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout>;
    const refresh = async () => {
      try {
        await invalidateAll();
      } catch {
        // A missed refresh is retried on the next tick; the page keeps showing the last good data.
      }
      if (!stopped) timer = setTimeout(refresh, ms);
    };
    timer = setTimeout(refresh, ms);
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  });
}
