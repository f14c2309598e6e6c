import { sveltekit } from '@sveltejs/kit/vite';
import { defineConfig } from 'vite';

export default defineConfig({
  plugins: [sveltekit()],
  // The page data contract lives in ../services, outside this app's root.
  server: { fs: { allow: ['..'] } },
});
