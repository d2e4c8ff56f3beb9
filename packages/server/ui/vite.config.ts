import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The dashboard is built into `dist/ui` of @asm/server (shipped in the package, served by the handler).
// `base: './'` keeps every asset URL relative, so the page works under any `basePath`.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  publicDir: false,
  logLevel: 'warn',
  build: {
    outDir: fileURLToPath(new URL('../dist/ui', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
  },
});
