import {
  type AsmConfig,
  AsmError,
  createInMemoryStore,
  createSessionManager,
  type EventData,
  type ExecuteRunOptions,
  type RunResult,
  type StoredEvent,
} from '@asm/core';
import { createMockProvider, type MockProvider, type MockProviderSettings } from '@asm/testing/fakes';
import {
  createPolicyExtension,
  type PolicyExtension,
  type PolicyExtensionOptions,
  type PolicyLike,
  policyRunOptions,
} from '../src/index.js';

/** The data of a stored `policy_violation` event. */
export interface ViolationData {
  policy: string;
  kind: string;
  action: string;
  details: Record<string, unknown>;
}

/** How a policy run ended, with everything a test looks at. */
export interface PolicyRun {
  result?: RunResult;
  error?: AsmError;
  provider: MockProvider;
  extension: PolicyExtension;
  runId: string;
  /** The run's stored events, in order. */
  events: StoredEvent[];
  /** `data` of every `policy_violation` event. */
  violations: ViolationData[];
}

/** Options of `runWithPolicy`. */
export interface RunWithPolicyOptions {
  mock?: MockProviderSettings;
  extension?: PolicyExtensionOptions;
  /** Also pass the compiled hints (`toolRules`, `maxOutputTokens`) with `policyRunOptions`. Default true. */
  compiled?: boolean;
  config?: Partial<AsmConfig>;
  execute?: ExecuteRunOptions;
  /** Answer every `tool_approval_requested` of the run like a person would; default: no answer. */
  approvals?: 'approve' | 'deny';
}

/** Runs one prompt through a real SessionManager + in-memory store with the mock provider. */
export async function runWithPolicy(policy: PolicyLike | PolicyLike[], options: RunWithPolicyOptions = {}) {
  const provider = createMockProvider({ response: 'Hi there.', ...(options.mock ?? {}) });
  const store = createInMemoryStore();
  const manager = createSessionManager({
    store,
    provider,
    ...(options.config === undefined ? {} : { config: options.config }),
  });
  const runOptions =
    options.compiled === false
      ? { extensions: [createPolicyExtension(policy, options.extension)] as [PolicyExtension] }
      : policyRunOptions(policy, options.extension);
  const extension = runOptions.extensions[0];
  let result: RunResult | undefined;
  let error: AsmError | undefined;
  let runId: string | undefined;
  let sessionId: string | undefined;
  try {
    result = await manager.runOnce('Do the thing', {
      ...runOptions,
      ...(options.execute ?? {}),
      onEvent: (event) => {
        runId ??= event.runId;
        options.execute?.onEvent?.(event);
        if (event.type === 'tool_approval_requested' && options.approvals !== undefined) {
          const toolCallId = (event.data as EventData<'tool_approval_requested'>).toolCallId;
          const answer =
            options.approvals === 'approve'
              ? manager.approveToolCall(event.runId!, toolCallId, { approvedBy: 'alice' })
              : manager.denyToolCall(event.runId!, toolCallId, { reason: 'Not today', deniedBy: 'bob' });
          answer.catch(() => undefined);
        }
      },
    });
    runId = result.runId;
    sessionId = result.sessionId;
  } catch (caught) {
    if (!AsmError.isInstance(caught)) throw caught;
    error = caught;
    runId = String(caught.details.runId);
    sessionId = String(caught.details.sessionId);
  }
  const events = (await store.getEvents(sessionId!)).filter((event) => event.runId === runId);
  const violations = events
    .filter((event) => event.type === 'policy_violation')
    .map((event) => event.data as unknown as ViolationData);
  const run: PolicyRun = { provider, extension, runId: runId!, events, violations };
  if (result) run.result = result;
  if (error) run.error = error;
  return { ...run, manager, store };
}

/** A clock for `maxDurationMs`: the run starts at 1000 and every later reading is `elapsed` later. */
export function steppedClock(elapsed: number): () => number {
  let first = true;
  return () => {
    if (first) {
      first = false;
      return 1_000;
    }
    return 1_000 + elapsed;
  };
}

/** Types of the run's events, in order. */
export function typesOf(events: StoredEvent[]): string[] {
  return events.map((event) => event.type);
}
