import {
  AsmError,
  type ErrorCode,
  isTerminalRunStatus,
  type Run,
  type RunResult,
  type SessionStore,
  type StoredEvent,
} from '@asm/core';

/** How a run ended, as `awaitRun` reports it. */
export type Outcome = { ok: true; result: RunResult } | { ok: false; error: AsmError };

/** Every stored event of a run, in order (paged reads). */
async function eventsOfRun(store: SessionStore, run: Run): Promise<StoredEvent[]> {
  const events: StoredEvent[] = [];
  let after = 0;
  for (;;) {
    const page = await store.getEvents(run.sessionId, { runId: run.id, after, limit: 1_000 });
    events.push(...page);
    if (page.length < 1_000) return events;
    after = page[page.length - 1]!.sequence;
  }
}

/**
 * The outcome of a finished run, rebuilt from the store (for a run another instance executed): the
 * same `RunResult` the executing instance resolved with, or its `AsmError` (code, message, details,
 * provider error) with `details.runId`, `sessionId` and `status`. `undefined` while the run is not
 * finished.
 */
export async function outcomeFromStore(store: SessionStore, run: Run): Promise<Outcome | undefined> {
  if (!isTerminalRunStatus(run.status)) return undefined;
  if (run.status !== 'completed') {
    const fallback: ErrorCode =
      run.status === 'cancelled' ? 'cancelled' : run.status === 'timeout' ? 'timeout' : 'internal_error';
    const error = new AsmError(run.error?.code ?? fallback, run.error?.message ?? `Run ${run.status}`, {
      details: { ...(run.error?.details ?? {}), runId: run.id, sessionId: run.sessionId, status: run.status },
      ...(run.error?.providerError ? { providerError: run.error.providerError } : {}),
    });
    return { ok: false, error };
  }
  const metadata = run.providerMetadata;
  const started = run.startedAt === undefined ? Number.NaN : Date.parse(run.startedAt);
  const ended = run.endedAt === undefined ? Number.NaN : Date.parse(run.endedAt);
  const result: RunResult = {
    runId: run.id,
    sessionId: run.sessionId,
    status: 'completed',
    provider: run.provider ?? (typeof metadata.provider === 'string' ? metadata.provider : 'unknown'),
    output: run.output ?? { content: '' },
    tokenUsage: run.tokenUsage,
    durationMs: Number.isFinite(started) && Number.isFinite(ended) ? Math.max(0, ended - started) : 0,
    events: await eventsOfRun(store, run),
    warnings: Array.isArray(run.metadata.warnings) ? [...(run.metadata.warnings as string[])] : [],
    metadata,
  };
  if (run.costUsd !== undefined) result.costUsd = run.costUsd;
  if (typeof metadata.providerSessionId === 'string') result.providerSessionId = metadata.providerSessionId;
  if (typeof metadata.model === 'string') result.model = metadata.model;
  return { ok: true, result };
}
