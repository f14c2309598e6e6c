import { onMount } from 'svelte';

/**
 * False during the server render and until the component is mounted in the browser, then true.
 * Forms use it to show every choice's fields without JavaScript (the server decides) and only the
 * chosen one's once scripts run. Call it during component initialisation.
 */
export function hydration(): { readonly done: boolean } {
  let done = $state(false);
  onMount(() => {
    done = true;
  });
  return {
    get done() {
      return done;
    },
  };
}
