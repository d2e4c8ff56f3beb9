/**
 * `pnpm --filter @asm/server dashboard:demo`: a server on 127.0.0.1:7420 (or `PORT`) over an
 * in-memory store filled with realistic sessions (see `seed.ts`), to look at the dashboard.
 * Set `ASM_TOKEN` to require a bearer token.
 */
import { createInMemoryStore } from '@asm/core';
import { bearerToken, createAsmServer } from '../../src/index.js';
import { createRealisticRuntime, seedRealisticData } from './seed.js';

const store = createInMemoryStore();
const { runtime, providers } = createRealisticRuntime(store);
await seedRealisticData(runtime, providers);
providers.claude.configure({ deltas: 400, chunk: 'streaming ', chunkDelayMs: 25 });
const token = process.env.ASM_TOKEN;
const server = await createAsmServer({
  runtime,
  port: Number(process.env.PORT ?? 7420),
  log: console.log,
  ...(token ? { authorize: bearerToken(token) } : {}),
});
const stop = async () => {
  await server.close();
  await runtime.close({ cancelInFlight: true });
  process.exit(0);
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
