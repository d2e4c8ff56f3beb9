import { getEventListeners } from 'node:events';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  AsmError,
  assertSessionStore,
  createEvent,
  createInMemoryStore,
  createRun,
  createSession,
  type ErrorCode,
  type InMemorySessionStore,
  type NewEvent,
  type Run,
  type Session,
} from '../src/index.js';

async function expectAsmError(promise: Promise<unknown>, code: ErrorCode): Promise<void> {
  const error: unknown = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(AsmError.isInstance(error), `expected AsmError ${code}, got ${String(error)}`).toBe(true);
  expect((error as AsmError).code).toBe(code);
}

function message(sessionId: string, extra: Partial<Pick<NewEvent, 'runId' | 'type'>> = {}): NewEvent {
  return createEvent({
    type: extra.type ?? 'message_sent',
    sessionId,
    runId: extra.runId,
    data: { role: 'user', content: 'hi' } as never,
  }) as NewEvent;
}

const tick = (ms = 5): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('createInMemoryStore', () => {
  let store: InMemorySessionStore;
  let session: Session;

  beforeEach(async () => {
    store = createInMemoryStore();
    session = createSession({ agentId: 'agent', metadata: { nested: { n: 1 } }, tags: ['a'] });
    await store.saveSession(session);
  });

  afterEach(async () => {
    await store.close();
  });

  it('is a v1 SessionStore with long-poll', () => {
    expect(() => assertSessionStore(store)).not.toThrow();
    expect(store.specificationVersion).toBe('v1');
    expect(store.supportsLongPoll).toBe(true);
    expect(store.closed).toBe(false);
  });

  describe('isolation of sessions and runs', () => {
    it('keeps its own copy of a saved session', async () => {
      const mine = createSession({ agentId: 'agent', metadata: { nested: { n: 1 } }, tags: ['x'] });
      await store.saveSession(mine);
      mine.status = 'active';
      (mine.metadata.nested as { n: number }).n = 2;
      mine.tags.push('y');
      const stored = await store.getSession(mine.id);
      expect(stored?.status).toBe('pending');
      expect(stored?.metadata).toEqual({ nested: { n: 1 } });
      expect(stored?.tags).toEqual(['x']);
    });

    it('hands out copies: mutating a returned session or list entry does not change the store', async () => {
      const returned = await store.saveSession(session);
      returned.agentId = 'changed';
      const read = await store.getSession(session.id);
      (read!.metadata.nested as { n: number }).n = 99;
      read!.tags.length = 0;
      const [listed] = await store.listSessions();
      listed!.status = 'failed';
      expect(await store.getSession(session.id)).toEqual(session);
    });

    it('keeps its own copy of a run and hands out copies', async () => {
      const run: Run = createRun({
        sessionId: session.id,
        input: { messages: [{ role: 'user', content: 'hi' }] },
      });
      const snapshot = structuredClone(run);
      const returned = await store.saveRun(run);
      (run.input as { messages: { content: string }[] }).messages[0]!.content = 'mutated';
      run.tokenUsage.inputTokens = 50;
      returned.status = 'running';
      const read = await store.getRun(run.id);
      read!.metadata.x = 1;
      const [listed] = await store.listRuns(session.id);
      listed!.turnCount = 7;
      expect(await store.getRun(run.id)).toEqual(snapshot);
    });

    it('rejects a session holding a value that cannot be copied with validation_error', async () => {
      const bad = createSession({ agentId: 'agent', metadata: { callback: () => 1 } });
      await expectAsmError(store.saveSession(bad), 'validation_error');
      expect(await store.getSession(bad.id)).toBeUndefined();
    });

    it('moves a run between sessions when it is saved under another session id', async () => {
      const other = createSession({ agentId: 'agent' });
      await store.saveSession(other);
      const run = await store.saveRun(createRun({ sessionId: session.id }));
      await store.saveRun({ ...run, sessionId: other.id });
      expect(await store.listRuns(session.id)).toEqual([]);
      expect((await store.listRuns(other.id)).map((item) => item.id)).toEqual([run.id]);
      await store.deleteSession(other.id);
      expect(await store.getRun(run.id)).toBeUndefined();
    });
  });

  describe('events', () => {
    it('stores a copy of the envelope with sequence added and keeps data by reference', async () => {
      const event = message(session.id);
      const stored = await store.appendEvent(event);
      expect(stored).not.toBe(event);
      expect(stored.data).toBe(event.data);
      expect('sequence' in event).toBe(false);
      (event as { type: string }).type = 'run_failed';
      expect((await store.getEvents(session.id))[0]?.type).toBe('message_sent');
    });

    it('gives an event without metadata an empty metadata object', async () => {
      const { metadata: _omitted, ...bare } = message(session.id);
      const stored = await store.appendEvent(bare as NewEvent);
      expect(stored.metadata).toEqual({});
    });

    it('rejects a batch that is not an array with validation_error', async () => {
      await expectAsmError(store.appendEvents('nope' as unknown as NewEvent[]), 'validation_error');
    });

    it('rejects one id under two sessions inside a batch and writes nothing', async () => {
      const other = createSession({ agentId: 'agent' });
      await store.saveSession(other);
      const event = message(session.id);
      await expectAsmError(
        store.appendEvents([message(other.id), event, { ...event, sessionId: other.id }]),
        'validation_error',
      );
      expect(await store.getLatestSequence(session.id)).toBe(0);
      expect(await store.getLatestSequence(other.id)).toBe(0);
    });

    it('reads the tail of a long log and pages from any cursor', async () => {
      const batch = Array.from({ length: 10_000 }, () => message(session.id));
      await store.appendEvents(batch);
      const tail = await store.getEvents(session.id, { after: 9_990 });
      expect(tail.map((event) => event.sequence)).toEqual([
        9_991, 9_992, 9_993, 9_994, 9_995, 9_996, 9_997, 9_998, 9_999, 10_000,
      ]);
      expect(tail.map((event) => event.id)).toEqual(batch.slice(9_990).map((event) => event.id));
      const page = await store.getEvents(session.id, { after: 5_000, limit: 3 });
      expect(page.map((event) => event.sequence)).toEqual([5_001, 5_002, 5_003]);
      const window = await store.getEvents(session.id, { after: 4_000, before: 4_003 });
      expect(window.map((event) => event.sequence)).toEqual([4_001, 4_002]);
      expect(await store.getLatestSequence(session.id)).toBe(10_000);
    });

    it('returns a new array on every read', async () => {
      await store.appendEvent(message(session.id));
      const first = await store.getEvents(session.id);
      first.length = 0;
      expect(await store.getEvents(session.id)).toHaveLength(1);
    });

    it('rejects invalid cursors and filters with validation_error', async () => {
      await expectAsmError(store.getEvents(session.id, { after: -1 }), 'validation_error');
      await expectAsmError(store.getEvents(session.id, { before: 2.5 }), 'validation_error');
      await expectAsmError(store.getEvents(session.id, { since: 'not a date' }), 'validation_error');
      await expectAsmError(
        store.getEvents(session.id, { types: 'message_sent' as unknown as ['message_sent'] }),
        'validation_error',
      );
      await expectAsmError(store.listSessions({ limit: 0 }), 'validation_error');
      await expectAsmError(store.listSessions({ offset: -1 }), 'validation_error');
      await expectAsmError(store.listRuns(session.id, { limit: 1.5 }), 'validation_error');
    });

    it('matches nothing for an empty types list', async () => {
      await store.appendEvent(message(session.id));
      expect(await store.getEvents(session.id, { types: [] })).toEqual([]);
    });
  });

  describe('long-poll', () => {
    it('answers at once without waitMs or with waitMs 0, parking nothing', async () => {
      expect(await store.getEvents(session.id, { waitMs: 0 })).toEqual([]);
      expect(await store.getEvents(session.id)).toEqual([]);
      expect(store.activeLongPolls).toBe(0);
    });

    it('wakes with the full filtered result, limit included, once the append has completed', async () => {
      const polling = store.getEvents(session.id, { types: ['tool_call_started'], limit: 2, waitMs: 10_000 });
      expect(store.activeLongPolls).toBe(1);
      const batch = [
        message(session.id),
        message(session.id, { type: 'tool_call_started' }),
        message(session.id, { type: 'tool_call_started' }),
        message(session.id, { type: 'tool_call_started' }),
      ];
      await store.appendEvents(batch);
      const events = await polling;
      expect(events.map((event) => event.sequence)).toEqual([2, 3]);
      expect(store.activeLongPolls).toBe(0);
    });

    it('wakes several waiters of one session, each with its own filter', async () => {
      const run = await store.saveRun(createRun({ sessionId: session.id }));
      const byRun = store.getEvents(session.id, { runId: run.id, waitMs: 10_000 });
      const any = store.getEvents(session.id, { waitMs: 10_000 });
      const later = store.getEvents(session.id, { after: 1, waitMs: 10_000 });
      await store.appendEvent(message(session.id, { runId: run.id }));
      expect((await byRun).map((event) => event.sequence)).toEqual([1]);
      expect((await any).map((event) => event.sequence)).toEqual([1]);
      expect(store.activeLongPolls).toBe(1);
      await store.appendEvent(message(session.id));
      expect((await later).map((event) => event.sequence)).toEqual([2]);
    });

    it('ignores an append beyond its before bound', async () => {
      await store.appendEvent(message(session.id));
      const polling = store.getEvents(session.id, { after: 1, before: 2, waitMs: 40 });
      await store.appendEvent(message(session.id));
      expect(store.activeLongPolls).toBe(1);
      expect(await polling).toEqual([]);
    });

    it('cleans up its timer and abort listener when woken, aborted or timed out', async () => {
      const controller = new AbortController();
      const woken = store.getEvents(session.id, { waitMs: 10_000, signal: controller.signal });
      expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
      await store.appendEvent(message(session.id));
      await woken;
      expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);

      const aborted = store.getEvents(session.id, { after: 1, waitMs: 10_000, signal: controller.signal });
      controller.abort();
      expect(await aborted).toEqual([]);
      expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);

      const other = new AbortController();
      expect(await store.getEvents(session.id, { after: 1, waitMs: 20, signal: other.signal })).toEqual([]);
      expect(getEventListeners(other.signal, 'abort')).toHaveLength(0);
      expect(store.activeLongPolls).toBe(0);
    });

    it('answers an aborted poll with what matches at that moment', async () => {
      const controller = new AbortController();
      const polling = store.getEvents(session.id, {
        types: ['run_completed'],
        waitMs: 10_000,
        signal: controller.signal,
      });
      await store.appendEvent(message(session.id));
      controller.abort();
      expect(await polling).toEqual([]);
    });

    it('releases every waiter with [] on close', async () => {
      const other = createSession({ agentId: 'agent' });
      await store.saveSession(other);
      const polls = [
        store.getEvents(session.id, { waitMs: 10_000 }),
        store.getEvents(session.id, { types: ['run_failed'], waitMs: 10_000 }),
        store.getEvents(other.id, { waitMs: 10_000 }),
      ];
      expect(store.activeLongPolls).toBe(3);
      await store.close();
      expect(await Promise.all(polls)).toEqual([[], [], []]);
      expect(store.activeLongPolls).toBe(0);
      expect(store.closed).toBe(true);
    });

    it('releases the waiters of a deleted session with []', async () => {
      const polling = store.getEvents(session.id, { waitMs: 10_000 });
      await store.deleteSession(session.id);
      expect(await polling).toEqual([]);
      expect(store.activeLongPolls).toBe(0);
    });

    it('caps waits at maxWaitMs', async () => {
      const capped = createInMemoryStore({ maxWaitMs: 10 });
      await capped.saveSession(session);
      await tick(1);
      expect(await capped.getEvents(session.id, { waitMs: 600_000 })).toEqual([]);
      expect(capped.activeLongPolls).toBe(0);
      await capped.close();
    });

    it('rejects an invalid maxWaitMs option', () => {
      expect(() => createInMemoryStore({ maxWaitMs: -1 })).toThrow(AsmError);
    });
  });

  describe('close', () => {
    it('rejects with storage_connection_failed and the message "store is closed"', async () => {
      await store.close();
      const error = await store.getSession(session.id).catch((reason: unknown) => reason);
      expect(AsmError.isInstance(error) && error.code).toBe('storage_connection_failed');
      expect((error as AsmError).message).toBe('The store is closed');
    });
  });
});
