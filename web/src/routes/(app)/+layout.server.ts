import { NO_HEADER_EXTRAS } from '#lib/header.ts';
import type { LayoutServerLoad } from './$types';

// Pages that know the Temporal UI address or run live jobs return their own `header`, merged over this one.
export const load: LayoutServerLoad = () => ({ header: NO_HEADER_EXTRAS });
