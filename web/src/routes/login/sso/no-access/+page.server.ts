import type { PageServerLoad } from './$types';

export const load: PageServerLoad = ({ url }) => ({
  provider: url.searchParams.get('provider')?.slice(0, 100) ?? 'your identity provider',
  email: url.searchParams.get('email')?.slice(0, 300) ?? '',
});
