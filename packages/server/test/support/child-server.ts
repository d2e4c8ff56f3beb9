/**
 * A server process for the restart and multi-instance tests, started with
 * `tsx --conditions=@asm/source test/support/child-server.ts` and configured by the JSON in
 * `ASM_CHILD_CONFIG` (see `ChildConfig`). Prints `READY <url>` once it listens; SIGTERM stops it
 * cleanly (SIGKILL is the crash the tests also simulate).
 */
import type { EventBus, RunExtension, SessionStore } from '@asm/core';
import { createPostgresStore } from '@asm/postgres';
import { createRedisEventBus } from '@asm/redis';
import { createSessionRuntime } from '@asm/runtime';
import { createSqliteStore } from '@asm/sqlite';
import { createMockProvider, type MockProviderSettings } from '@asm/testing/fakes';
import { createAsmServer } from '../../src/index.js';

/** What the parent test asks for. */
export interface ChildConfig {
  store: { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string; schema: string };
  /** Redis pub/sub for live events between processes. */
  bus?: { url: string; prefix: string };
  provider: MockProviderSettings;
  /** Tool names that need a person's approval. */
  approvalTools?: string[];
  /** Mark runs left `running` by a crashed process as failed before serving. */
  recover?: boolean;
  port?: number;
}

const config = JSON.parse(process.env.ASM_CHILD_CONFIG ?? '{}') as ChildConfig;

const store: SessionStore =
  config.store.kind === 'sqlite'
    ? createSqliteStore({ path: config.store.path })
    : createPostgresStore({ connectionString: config.store.url, schema: config.store.schema, poolSize: 4 });
const bus: EventBus | undefined = config.bus
  ? createRedisEventBus({ url: config.bus.url }, config.bus.prefix)
  : undefined;
const approvals: RunExtension = {
  name: 'approvals',
  authorizeToolCall: (call) => (config.approvalTools?.includes(call.name) ? 'ask' : undefined),
};
const runtime = createSessionRuntime({
  store,
  provider: createMockProvider(config.provider),
  ...(bus ? { bus } : {}),
  managerOptions: { extensions: [approvals], config: { eventWriteLingerMs: 0 } },
});
if (config.recover) await runtime.recoverInterruptedRuns();
const server = await createAsmServer({ runtime, port: config.port ?? 0, heartbeatMs: 1_000 });
process.stdout.write(`READY ${server.url}\n`);

process.once('SIGTERM', () => {
  void (async () => {
    await server.close();
    await runtime.close({ cancelInFlight: true });
    await bus?.close();
    await store.close();
    process.exit(0);
  })();
});
