import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts', 'src/append-worker.ts'],
  format: ['esm'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  external: ['@asm/core'],
});
