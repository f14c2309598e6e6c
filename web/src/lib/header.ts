/**
 * What the shared header shows besides the user: the (app) layout's load gives the defaults, and a
 * page whose data knows more returns its own `header`, which SvelteKit merges over the layout's.
 */
export interface HeaderData {
  /** The Temporal UI link in the header; null hides it. */
  temporalUiUrl: string | null;
  /** True while the page reloads itself because work is running. */
  live: boolean;
}

export const NO_HEADER_EXTRAS: HeaderData = { temporalUiUrl: null, live: false };

export function header(temporalUiUrl: string | null, live = false): HeaderData {
  return { temporalUiUrl, live };
}
