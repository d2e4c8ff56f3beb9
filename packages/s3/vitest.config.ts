import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: { conditions: ['@asm/source'] },
  ssr: { resolve: { conditions: ['@asm/source'] } },
  test: { include: ['test/**/*.test.ts'] },
});
