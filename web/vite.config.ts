import adapter from '@sveltejs/adapter-node';
import { sveltekit } from '@sveltejs/kit/vite';
import { vitePreprocess } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vite';

export default defineConfig({
  plugins: [
    sveltekit({
      preprocess: vitePreprocess(),
      // web/server.ts mounts build/handler.js inside its own express app, so no standalone server is needed.
      // The prefix keeps adapter settings (HINDSIGHT_CONSOLE_ORIGIN, ..._PROTOCOL_HEADER) apart from
      // generic names like ORIGIN or PORT that other software on the host may set; web/server.ts relies on it.
      adapter: adapter({ out: 'build', precompress: false, envPrefix: 'HINDSIGHT_CONSOLE_' }),
    }),
  ],
  // The page data contract lives in ../services, outside this app's root.
  server: { fs: { allow: ['..'] } },
});
