import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: { conditions: ['@asm/source'] },
  ssr: { resolve: { conditions: ['@asm/source'] } },
  test: {
    include: ['test/**/*.test.ts'],
    // Every test spawns the CLI (tsx compiles it on start): generous limits for a loaded machine.
    testTimeout: 180_000,
    hookTimeout: 60_000,
  },
});
