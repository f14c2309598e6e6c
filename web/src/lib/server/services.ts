import type { ConsoleServices } from './view/console-services.ts';
import { CONSOLE_SERVICES_KEY } from './view/types.ts';

/**
 * The console renders whatever the express host published before mounting the handler; it never
 * opens the catalog or a Temporal connection itself, so a missing object is a wiring bug, not a
 * state to recover from.
 */
export function services(): ConsoleServices {
  const published = (globalThis as Record<string, unknown>)[CONSOLE_SERVICES_KEY] as ConsoleServices | undefined;
  if (!published) {
    throw new Error(
      `console services are not available: globalThis.${CONSOLE_SERVICES_KEY} is unset. ` +
        'Serve the console through startWebServer() in web/server.ts, which publishes them before mounting the SvelteKit handler.',
    );
  }
  return published;
}
