import adapter from '@sveltejs/adapter-node';
import { vitePreprocess } from '@sveltejs/vite-plugin-svelte';

/** @type {import('@sveltejs/kit').Config} */
const config = {
  preprocess: vitePreprocess(),
  kit: {
    // web/server.ts mounts build/handler.js inside its own express app, so no standalone server is needed.
    // The prefix keeps adapter settings (HINDSIGHT_CONSOLE_ORIGIN, ..._PROTOCOL_HEADER) apart from
    // generic names like ORIGIN or PORT that other software on the host may set; web/server.ts relies on it.
    adapter: adapter({ out: 'build', precompress: false, envPrefix: 'HINDSIGHT_CONSOLE_' }),
  },
};

export default config;
