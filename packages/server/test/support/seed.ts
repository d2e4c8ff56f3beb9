/**
 * Realistic data for the dashboard: several sessions over a router of two priced providers and an
 * unpriced one, with tool calls, approvals (granted and denied), a failover, policy violations (a
 * refused tool and a token budget), a cancelled run, a timed-out run and a long streamed answer.
 * Used by the browser test and by `pnpm --filter @asm/server dashboard:demo`.
 */
import { followSessionEvents, type RunExtension, type SessionStore, type StoredEvent } from '@asm/core';
import { createPolicyExtension } from '@asm/policy';
import { createRouter } from '@asm/routing';
import { createSessionRuntime, type SessionRuntime, type SessionServer } from '@asm/runtime';
import { createMockProvider, type MockProvider, type MockProviderSettings } from '@asm/testing/fakes';

/** The providers behind the router, to reconfigure between runs. */
export interface SeedProviders {
  claude: MockProvider;
  codex: MockProvider;
  amp: MockProvider;
}

/** A runtime wired like a real app: a router, a policy and an approval gate for `deploy`. */
export function createRealisticRuntime(store: SessionStore): {
  runtime: SessionRuntime;
  providers: SeedProviders;
} {
  const providers: SeedProviders = {
    claude: createMockProvider({ name: 'claude', model: 'claude-sonnet-4-5' }),
    codex: createMockProvider({ name: 'codex', model: 'gpt-5-codex' }),
    amp: createMockProvider({ name: 'amp', model: 'amp-smart' }),
  };
  const router = createRouter({
    providers: [providers.claude, providers.codex, providers.amp],
    sticky: false,
    cooldownMs: 0,
    circuitBreaker: false,
  });
  const approvals: RunExtension = {
    name: 'deploy-approvals',
    authorizeToolCall: (call) =>
      call.name === 'deploy' ? { ask: true, reason: 'Deploys need a person' } : undefined,
  };
  const policy = createPolicyExtension({
    name: 'safety',
    limits: { maxTotalTokens: 40_000 },
    tools: { deny: ['rm_rf'] },
    onViolation: 'cancel',
  });
  const runtime = createSessionRuntime({
    store,
    provider: router,
    managerOptions: { extensions: [policy, approvals], config: { eventWriteLingerMs: 0 } },
  });
  return { runtime, providers };
}

/** Resolves with the first event of a session matching `predicate` (from the start of its log). */
export async function waitForEvent(
  store: SessionStore,
  sessionId: string,
  predicate: (event: StoredEvent) => boolean,
  timeoutMs = 60_000,
): Promise<StoredEvent> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    for await (const event of followSessionEvents(store, sessionId, {
      signal: controller.signal,
      pollIntervalMs: 20,
    })) {
      if (predicate(event)) return event;
    }
  } finally {
    clearTimeout(timer);
  }
  throw new Error(`No matching event in session ${sessionId} within ${timeoutMs} ms`);
}

function configureAll(providers: SeedProviders, settings: Partial<MockProviderSettings>): void {
  for (const provider of Object.values(providers)) {
    provider.configure({
      failWith: undefined,
      toolCalls: undefined,
      stall: undefined,
      deltas: undefined,
      chunkDelayMs: undefined,
      costUsd: undefined,
      ...settings,
    });
  }
}

async function settle(server: SessionServer, runId: string): Promise<void> {
  await server.awaitRun(runId).catch(() => undefined);
}

const ANSWER =
  'Here is the plan.\n\n1. Reproduce the failing request against staging.\n2. Compare the payload with ' +
  'the schema in api/orders.ts; the `discount` field is a string there but a number in the client.\n' +
  '3. Fix the client, add a regression test, and ship it behind the existing flag.';

/** Session ids of `seedRealisticData`, by scenario. */
export interface SeedIds {
  support: string;
  failover: string;
  policy: string;
  approvals: string;
  timeout: string;
}

/**
 * Fills the runtime's store with the sessions described at the top of this file. Returns the ids of
 * the sessions, by scenario.
 */
export async function seedRealisticData(runtime: SessionRuntime, providers: SeedProviders): Promise<SeedIds> {
  const store = runtime.manager.store;
  const ids: Partial<SeedIds> = {};
  const usage = (input: number, output: number) => ({
    tokenUsage: { inputTokens: input, outputTokens: output },
  });

  // 1. A support conversation: three runs, a tool call, a long answer.
  {
    const server = await runtime.start({ session: { agentId: 'support-bot', tags: ['support', 'prod'] } });
    ids.support = server.sessionId;
    configureAll(providers, { response: 'Sure — which order number is it?', ...usage(420, 36) });
    await settle(server, await server.submitRun('My order never arrived.'));
    configureAll(providers, {
      response: 'Order 4411 left the warehouse on Monday; the carrier lost it. I have sent a replacement.',
      toolCalls: [{ id: 'toolu_lookup_1', name: 'lookup_order', input: { orderId: '4411' } }],
      ...usage(1_250, 64),
    });
    await settle(server, await server.submitRun('It is order 4411.'));
    configureAll(providers, { response: ANSWER, ...usage(2_100, 180) });
    await settle(server, await server.submitRun('How would you fix the discount bug we talked about?'));
    await runtime.manager.completeSession(server.sessionId);
  }

  // 2. A failover: claude is unavailable, the router continues on codex.
  {
    const server = await runtime.start({ session: { agentId: 'release-notes' } });
    ids.failover = server.sessionId;
    configureAll(providers, {
      response: 'Release 2.4 adds SSO, faster search and 12 fixes.',
      ...usage(3_000, 90),
    });
    providers.claude.configure({
      failWith: { code: 'provider_unavailable', message: 'Overloaded (529)', afterDeltas: 0 },
    });
    await settle(server, await server.submitRun('Summarize the changes since 2.3'));
  }

  // 3. Policy violations: a refused tool, then a token budget crossed.
  {
    const server = await runtime.start({ session: { agentId: 'ops-agent', tags: ['ops'] } });
    ids.policy = server.sessionId;
    configureAll(providers, {
      response: 'Cleaning the build cache.',
      toolCalls: [{ id: 'toolu_rm_1', name: 'rm_rf', input: { path: '/var/cache/build' } }],
      ...usage(800, 20),
    });
    await settle(server, await server.submitRun('Free some disk space'));
    configureAll(providers, { response: 'A very long report…', ...usage(45_000, 2_000) });
    await settle(server, await server.submitRun('Write the quarterly report'));
  }

  // 4. Approvals: one deploy granted, one denied; and a cancelled run.
  {
    const server = await runtime.start({ session: { agentId: 'deploy-bot' } });
    ids.approvals = server.sessionId;
    configureAll(providers, {
      response: 'Deployed web@1.8.2 to production.',
      toolCalls: [{ id: 'toolu_deploy_1', name: 'deploy', input: { service: 'web', version: '1.8.2' } }],
      ...usage(900, 40),
    });
    const granted = await server.submitRun('Deploy web 1.8.2');
    await waitForEvent(store, server.sessionId, (event) => event.type === 'tool_approval_requested');
    await runtime.manager.approveToolCall(granted, 'toolu_deploy_1', { approvedBy: 'ada' });
    await settle(server, granted);
    configureAll(providers, {
      response: 'Understood, not deploying.',
      toolCalls: [{ id: 'toolu_deploy_2', name: 'deploy', input: { service: 'db', version: '9.0.0' } }],
      ...usage(950, 30),
    });
    const denied = await server.submitRun('Deploy db 9.0.0');
    await waitForEvent(
      store,
      server.sessionId,
      (event) => event.type === 'tool_approval_requested' && event.data.toolCallId === 'toolu_deploy_2',
    );
    await runtime.manager.denyToolCall(denied, 'toolu_deploy_2', {
      deniedBy: 'ada',
      reason: 'Database upgrades need a maintenance window',
    });
    await settle(server, denied);
    configureAll(providers, { stall: true, deltas: 3, chunk: 'Working… ', ...usage(100, 5) });
    const cancelled = await server.submitRun('Rebuild every image');
    await waitForEvent(
      store,
      server.sessionId,
      (event) => event.runId === cancelled && event.type === 'message_streamed',
    );
    await server.cancelRun(cancelled, 'Taking too long');
    await settle(server, cancelled);
  }

  // 5. A timeout, and an unpriced provider (amp has no price table).
  {
    const server = await runtime.start({ session: { agentId: 'research' } });
    ids.timeout = server.sessionId;
    configureAll(providers, { stall: true, response: 'Crawling… ', ...usage(10, 0) });
    await settle(server, await server.submitRun('Crawl the whole web', { timeoutMs: 300 }));
    configureAll(providers, { response: 'Found 3 papers on retrieval evaluation.', ...usage(5_000, 300) });
    providers.claude.configure({ failWith: { code: 'provider_rate_limited', afterDeltas: 0 } });
    providers.codex.configure({ failWith: { code: 'provider_timeout', afterDeltas: 0 } });
    await settle(server, await server.submitRun('Find papers on retrieval evaluation'));
  }

  configureAll(providers, { response: 'Hello from the mock provider.' });
  return ids as SeedIds;
}
