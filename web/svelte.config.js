import adapter from '@sveltejs/adapter-node';
import { vitePreprocess } from '@sveltejs/vite-plugin-svelte';

/** @type {import('@sveltejs/kit').Config} */
const config = {
  preprocess: vitePreprocess(),
  kit: {
    // web/server.ts mounts build/handler.js inside its own express app, so no standalone server is needed.
    adapter: adapter({ out: 'build', precompress: false }),
  },
};

export default config;
