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
      // Sent as a header with every page (web/security-headers.ts covers every other response): no
      // script but our own files and the hashes of SvelteKit's inline bootstrap, so injected markup
      // cannot run. Inline styles stay allowed: Svelte sets style attributes, and they run no code.
      csp: {
        mode: 'hash',
        directives: {
          'default-src': ['self'],
          'script-src': ['self'],
          'style-src': ['self', 'unsafe-inline'],
          'img-src': ['self', 'data:'],
          'font-src': ['self'],
          'connect-src': ['self'],
          'object-src': ['none'],
          'base-uri': ['self'],
          'form-action': ['self'],
          'frame-ancestors': ['none'],
        },
      },
    }),
  ],
  // The page data contract lives in ../services, outside this app's root.
  server: { fs: { allow: ['..'] } },
});
