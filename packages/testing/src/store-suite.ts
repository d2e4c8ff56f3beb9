import {
  AsmError,
  createEvent,
  createRun,
  createSession,
  type ErrorCode,
  type EventType,
  eventFromJSON,
  type NewEvent,
  type NewEventAttributes,
  newEventId,
  type Run,
  type Session,
  type SessionStore,
  type StoredEvent,
} from '@asm/core';
import { afterEach, beforeEach, describe, expect, it, type TestContext } from 'vitest';

/** The groups of `testSessionStore`, which `skip` can name. */
export type StoreSuiteGroup =
  | 'sessions'
  | 'runs'
  | 'appendEvent'
  | 'appendEvents'
  | 'concurrency'
  | 'getEvents'
  | 'longPoll'
  | 'close'
  | 'payloads';

/** Options of `testSessionStore`. */
export interface TestSessionStoreOptions {
  /** Shown in the suite's title (`SessionStore conformance: <name>`). */
  name?: string;
  /** Makes a fresh store; called before every test. */
  create: () => SessionStore | Promise<SessionStore>;
  /**
   * Called after every test with the store it used (typically `(store) => store.close()`). It is
   * called even when the test closed the store itself, so it must tolerate a closed store.
   */
  cleanup?: (store: SessionStore) => void | Promise<void>;
  /**
   * Tests to register as skipped: a whole group, or a test by its full name
   * (`'appendEvents - returns the stored event for a duplicate id'`). Use sparingly and say why.
   */
  skip?: ReadonlyArray<StoreSuiteGroup | (string & {})>;
  /** Per-test timeout in milliseconds, for stores behind a network (default: vitest's). */
  timeoutMs?: number;
}

/**
 * The conformance suite of the `SessionStore` port. Every store package runs it:
 *
 * ```ts
 * import { testSessionStore } from '@asm/testing';
 * testSessionStore({ name: 'sqlite', create: () => createSqliteStore(':memory:'), cleanup: (s) => s.close() });
 * ```
 *
 * It registers vitest `describe`/`it` blocks, so call it at the top level of a test file. Each test
 * gets a store of its own from `create()`. Tests never depend on what other tests left behind: ids are
 * random and list queries are scoped to a per-test agent id, so a store on a shared database passes
 * too. Long-poll tests run only when `store.supportsLongPoll` is true.
 *
 * What it proves: session and run CRUD and their list filters and order; cascade delete; the sequence
 * contract (from 1, +1, idempotent on id, batches all or nothing and contiguous, no gap or duplicate
 * under 100 concurrent writers); every `getEvents` filter; long-poll; the closed-store error; large
 * and unicode payloads.
 */
export function testSessionStore(options: TestSessionStoreOptions): void {
  const skipped = new Set<string>(options.skip ?? []);
  const title =
    options.name === undefined ? 'SessionStore conformance' : `SessionStore conformance: ${options.name}`;

  describe(title, () => {
    let current: SessionStore | undefined;
    /** A per-test agent id, so list queries only see this test's sessions. */
    let agentId = '';

    beforeEach(async () => {
      agentId = `agent_${randomHex(12)}`;
      current = await options.create();
    });

    afterEach(async () => {
      const store = current;
      current = undefined;
      if (store !== undefined && options.cleanup !== undefined) await options.cleanup(store);
    });

    const store = (): SessionStore => {
      if (current === undefined) throw new Error('testSessionStore: the store was not created');
      return current;
    };

    const check = (
      group: StoreSuiteGroup,
      name: string,
      body: (context: TestContext) => Promise<void>,
    ): void => {
      if (skipped.has(group) || skipped.has(name)) it.skip(name, body);
      else it(name, body, options.timeoutMs);
    };

    /** Saves a new session of this test's agent. */
    const newSession = async (overrides: Partial<Session> = {}): Promise<Session> => {
      const session = { ...createSession({ agentId }), ...overrides };
      await store().saveSession(session);
      return session;
    };

    /** Saves a new run of the session. */
    const newRun = async (sessionId: string, overrides: Partial<Run> = {}): Promise<Run> => {
      const run = { ...createRun({ sessionId, input: { prompt: 'hello' } }), ...overrides };
      await store().saveRun(run);
      return run;
    };

    describe('sessions', () => {
      check('sessions', 'saveSession - round-trips a session through getSession', async () => {
        const session = createSession({
          agentId,
          metadata: { provider: 'mock', nested: { a: [1, 2, 3] } },
          context: { systemPrompt: 'be brief' },
          tags: ['x', 'y'],
        });
        const returned = await store().saveSession(session);
        expect(returned).toEqual(session);
        expect(await store().getSession(session.id)).toEqual(session);
      });

      check('sessions', 'saveSession - upserts: saving the same id twice never duplicates', async () => {
        const session = await newSession();
        const updated: Session = {
          ...session,
          status: 'active',
          metadata: { step: 2 },
          updatedAt: laterIso(1),
        };
        await store().saveSession(updated);
        expect(await store().getSession(session.id)).toEqual(updated);
        const listed = await store().listSessions({ agentId });
        expect(listed.map((item) => item.id)).toEqual([session.id]);
        expect(listed[0]?.status).toBe('active');
      });

      check('sessions', 'getSession - returns undefined for a missing session', async () => {
        expect(await store().getSession(`ses_${randomHex(32)}`)).toBeUndefined();
      });

      check('sessions', 'listSessions - orders by createdAt, then by id', async () => {
        const base = `ses_${randomHex(24)}`;
        const third = await newSession({ id: `${base}_c`, createdAt: isoAt(3) });
        const first = await newSession({ id: `${base}_b`, createdAt: isoAt(1) });
        const secondB = await newSession({ id: `${base}_e`, createdAt: isoAt(2) });
        const secondA = await newSession({ id: `${base}_d`, createdAt: isoAt(2) });
        const listed = await store().listSessions({ agentId });
        expect(listed.map((item) => item.id)).toEqual([first.id, secondA.id, secondB.id, third.id]);
      });

      check('sessions', 'listSessions - filters by status, one or several', async () => {
        const pending = await newSession({ createdAt: isoAt(1) });
        const active = await newSession({ status: 'active', createdAt: isoAt(2) });
        const completed = await newSession({ status: 'completed', createdAt: isoAt(3) });
        expect(ids(await store().listSessions({ agentId, status: 'active' }))).toEqual([active.id]);
        expect(ids(await store().listSessions({ agentId, status: ['pending', 'completed'] }))).toEqual([
          pending.id,
          completed.id,
        ]);
        expect(await store().listSessions({ agentId, status: 'failed' })).toEqual([]);
      });

      check('sessions', 'listSessions - filters by agentId', async () => {
        const mine = await newSession();
        const otherAgent = `agent_${randomHex(12)}`;
        const other = { ...createSession({ agentId: otherAgent }) };
        await store().saveSession(other);
        expect(ids(await store().listSessions({ agentId }))).toEqual([mine.id]);
        expect(ids(await store().listSessions({ agentId: otherAgent }))).toEqual([other.id]);
      });

      check('sessions', 'listSessions - filters by tags: a session must carry every tag', async () => {
        const both = await newSession({ tags: ['red', 'blue'], createdAt: isoAt(1) });
        const red = await newSession({ tags: ['red'], createdAt: isoAt(2) });
        await newSession({ tags: [], createdAt: isoAt(3) });
        expect(ids(await store().listSessions({ agentId, tags: ['red'] }))).toEqual([both.id, red.id]);
        expect(ids(await store().listSessions({ agentId, tags: ['blue', 'red'] }))).toEqual([both.id]);
        expect(await store().listSessions({ agentId, tags: ['green'] })).toEqual([]);
      });

      check('sessions', 'listSessions - applies limit and offset after ordering', async () => {
        const created: Session[] = [];
        for (let index = 0; index < 5; index++) created.push(await newSession({ createdAt: isoAt(index) }));
        const all = ids(created);
        expect(ids(await store().listSessions({ agentId, limit: 2 }))).toEqual(all.slice(0, 2));
        expect(ids(await store().listSessions({ agentId, limit: 2, offset: 2 }))).toEqual(all.slice(2, 4));
        expect(ids(await store().listSessions({ agentId, offset: 3 }))).toEqual(all.slice(3));
        expect(await store().listSessions({ agentId, offset: 10 })).toEqual([]);
      });

      check('sessions', 'listSessions - combines filters with AND', async () => {
        await newSession({ status: 'active', tags: ['a'], createdAt: isoAt(1) });
        const match = await newSession({ status: 'active', tags: ['a', 'b'], createdAt: isoAt(2) });
        await newSession({ status: 'paused', tags: ['a', 'b'], createdAt: isoAt(3) });
        expect(ids(await store().listSessions({ agentId, status: 'active', tags: ['b'] }))).toEqual([
          match.id,
        ]);
      });

      check('sessions', 'deleteSession - removes the session with its runs and events', async () => {
        const session = await newSession();
        const run = await newRun(session.id);
        await store().appendEvents([
          eventOf(session.id, { runId: run.id }),
          eventOf(session.id, { runId: run.id }),
        ]);
        await store().deleteSession(session.id);
        expect(await store().getSession(session.id)).toBeUndefined();
        expect(await store().getRun(run.id)).toBeUndefined();
        expect(await store().listRuns(session.id)).toEqual([]);
        expect(await store().getEvents(session.id)).toEqual([]);
        expect(await store().getLatestSequence(session.id)).toBe(0);
        expect(await store().listSessions({ agentId })).toEqual([]);
      });

      check('sessions', 'deleteSession - is idempotent and leaves other sessions alone', async () => {
        const doomed = await newSession();
        const kept = await newSession();
        await store().appendEvent(eventOf(kept.id));
        await store().deleteSession(doomed.id);
        await store().deleteSession(doomed.id);
        await store().deleteSession(`ses_${randomHex(32)}`);
        expect(await store().getSession(kept.id)).toEqual(kept);
        expect(await store().getLatestSequence(kept.id)).toBe(1);
      });

      check(
        'sessions',
        'deleteSession - a recreated session starts its log again from sequence 1',
        async () => {
          const session = await newSession();
          const event = eventOf(session.id);
          await store().appendEvents([event, eventOf(session.id)]);
          await store().deleteSession(session.id);
          await store().saveSession(session);
          expect(await store().getLatestSequence(session.id)).toBe(0);
          const again = await store().appendEvent(event);
          expect(again.sequence).toBe(1);
        },
      );
    });

    describe('runs', () => {
      check('runs', 'saveRun - round-trips a run through getRun', async () => {
        const session = await newSession();
        const run: Run = {
          ...createRun({ sessionId: session.id, input: { messages: [{ role: 'user', content: 'hi' }] } }),
          metadata: { attempt: 1 },
        };
        expect(await store().saveRun(run)).toEqual(run);
        expect(await store().getRun(run.id)).toEqual(run);
      });

      check('runs', 'saveRun - upserts: saving the same id twice never duplicates', async () => {
        const session = await newSession();
        const run = await newRun(session.id);
        const finished: Run = {
          ...run,
          status: 'completed',
          output: { content: 'done', stopReason: 'end_turn' },
          turnCount: 1,
          tokenUsage: {
            inputTokens: 3,
            outputTokens: 4,
            cacheReadTokens: 0,
            cacheWriteTokens: 0,
            totalTokens: 7,
          },
          costUsd: 0.25,
          provider: 'mock',
          startedAt: laterIso(1),
          endedAt: laterIso(2),
        };
        await store().saveRun(finished);
        expect(await store().getRun(run.id)).toEqual(finished);
        expect(ids(await store().listRuns(session.id))).toEqual([run.id]);
      });

      check('runs', 'saveRun - rejects a run of a missing session with session_not_found', async () => {
        const run = createRun({ sessionId: `ses_${randomHex(32)}` });
        await expectAsmError(store().saveRun(run), 'session_not_found');
        expect(await store().getRun(run.id)).toBeUndefined();
      });

      check('runs', 'getRun - returns undefined for a missing run', async () => {
        expect(await store().getRun(`run_${randomHex(32)}`)).toBeUndefined();
      });

      check('runs', 'listRuns - orders by createdAt, then by id', async () => {
        const session = await newSession();
        const base = `run_${randomHex(24)}`;
        const late = await newRun(session.id, { id: `${base}_a`, createdAt: isoAt(3) });
        const early = await newRun(session.id, { id: `${base}_b`, createdAt: isoAt(1) });
        const tieB = await newRun(session.id, { id: `${base}_d`, createdAt: isoAt(2) });
        const tieA = await newRun(session.id, { id: `${base}_c`, createdAt: isoAt(2) });
        expect(ids(await store().listRuns(session.id))).toEqual([early.id, tieA.id, tieB.id, late.id]);
      });

      check('runs', 'listRuns - only returns runs of the given session', async () => {
        const one = await newSession();
        const two = await newSession();
        const runOne = await newRun(one.id);
        const runTwo = await newRun(two.id);
        expect(ids(await store().listRuns(one.id))).toEqual([runOne.id]);
        expect(ids(await store().listRuns(two.id))).toEqual([runTwo.id]);
        expect(await store().listRuns(`ses_${randomHex(32)}`)).toEqual([]);
      });

      check('runs', 'listRuns - filters by status (one or several) and applies limit last', async () => {
        const session = await newSession();
        const pending = await newRun(session.id, { createdAt: isoAt(1) });
        const running = await newRun(session.id, { status: 'running', createdAt: isoAt(2) });
        const completed = await newRun(session.id, { status: 'completed', createdAt: isoAt(3) });
        const failed = await newRun(session.id, { status: 'failed', createdAt: isoAt(4) });
        expect(ids(await store().listRuns(session.id, { status: 'running' }))).toEqual([running.id]);
        expect(ids(await store().listRuns(session.id, { status: ['pending', 'failed'] }))).toEqual([
          pending.id,
          failed.id,
        ]);
        expect(ids(await store().listRuns(session.id, { limit: 2 }))).toEqual([pending.id, running.id]);
        expect(
          ids(await store().listRuns(session.id, { status: ['completed', 'failed'], limit: 1 })),
        ).toEqual([completed.id]);
      });
    });

    describe('appendEvent', () => {
      check('appendEvent', 'appendEvent - assigns sequence 1, 2, 3 … per session', async () => {
        const session = await newSession();
        const first = eventOf(session.id);
        const stored = await store().appendEvent(first);
        expect(stored).toEqual({ ...first, sequence: 1 });
        expect((await store().appendEvent(eventOf(session.id))).sequence).toBe(2);
        expect((await store().appendEvent(eventOf(session.id))).sequence).toBe(3);
        expect(await store().getLatestSequence(session.id)).toBe(3);
      });

      check('appendEvent', 'appendEvent - returns the stored event for a duplicate id', async () => {
        const session = await newSession();
        const event = eventOf(session.id, { data: { role: 'user', content: 'original' } });
        const stored = await store().appendEvent(event);
        await store().appendEvent(eventOf(session.id));
        const again = await store().appendEvent(withData(event, { role: 'user', content: 'changed' }));
        expect(again.sequence).toBe(stored.sequence);
        expect(again.data).toEqual({ role: 'user', content: 'original' });
        expect(await store().getLatestSequence(session.id)).toBe(2);
        expect(await store().getEvents(session.id)).toHaveLength(2);
      });

      check(
        'appendEvent',
        'appendEvent - rejects an event of a missing session with session_not_found',
        async () => {
          const sessionId = `ses_${randomHex(32)}`;
          await expectAsmError(store().appendEvent(eventOf(sessionId)), 'session_not_found');
          expect(await store().getLatestSequence(sessionId)).toBe(0);
        },
      );

      check('appendEvent', 'appendEvent - rejects an invalid event and stores nothing', async () => {
        const session = await newSession();
        await expectAsmError(store().appendEvent(invalidType(eventOf(session.id))), 'invalid_event_type');
        await expectAsmError(
          store().appendEvent({ ...eventOf(session.id), data: 'text' } as unknown as NewEvent),
          'validation_error',
        );
        await expectAsmError(
          store().appendEvent({ ...eventOf(session.id), timestamp: 'yesterday' } as unknown as NewEvent),
          'validation_error',
        );
        expect(await store().getLatestSequence(session.id)).toBe(0);
      });

      check(
        'appendEvent',
        'appendEvent - rejects an id already stored in another session with validation_error',
        async () => {
          const one = await newSession();
          const two = await newSession();
          const event = eventOf(one.id);
          await store().appendEvent(event);
          await expectAsmError(store().appendEvent({ ...event, sessionId: two.id }), 'validation_error');
          expect(await store().getLatestSequence(two.id)).toBe(0);
          expect(await store().getLatestSequence(one.id)).toBe(1);
        },
      );

      check('appendEvent', 'appendEvent - keeps sequences of different sessions independent', async () => {
        const one = await newSession();
        const two = await newSession();
        const order = [one, two, one, one, two, one];
        const stored: StoredEvent[] = [];
        for (const session of order) stored.push(await store().appendEvent(eventOf(session.id)));
        expect(stored.map((event) => event.sequence)).toEqual([1, 1, 2, 3, 2, 4]);
        expect(await store().getLatestSequence(one.id)).toBe(4);
        expect(await store().getLatestSequence(two.id)).toBe(2);
        expect(sequences(await store().getEvents(two.id))).toEqual([1, 2]);
        expect((await store().getEvents(two.id)).every((event) => event.sessionId === two.id)).toBe(true);
      });
    });

    describe('appendEvents', () => {
      check(
        'appendEvents',
        'appendEvents - stores a batch in input order with contiguous sequences',
        async () => {
          const session = await newSession();
          await store().appendEvent(eventOf(session.id));
          const batch = [
            eventOf(session.id, { type: 'run_started' }),
            eventOf(session.id, { type: 'message_streamed', data: { kind: 'text', delta: 'a' } }),
            eventOf(session.id, { type: 'run_completed' }),
          ];
          const stored = await store().appendEvents(batch);
          expect(stored).toEqual(batch.map((event, index) => ({ ...event, sequence: index + 2 })));
          expect(await store().getLatestSequence(session.id)).toBe(4);
          expect((await store().getEvents(session.id)).map((event) => event.id).slice(1)).toEqual(ids(batch));
        },
      );

      check('appendEvents', 'appendEvents - returns [] for an empty batch', async () => {
        expect(await store().appendEvents([])).toEqual([]);
      });

      check('appendEvents', 'appendEvents - returns the stored event for a duplicate id', async () => {
        const session = await newSession();
        const old = eventOf(session.id);
        const storedOld = await store().appendEvent(old);
        const fresh = eventOf(session.id);
        const stored = await store().appendEvents([fresh, withData(old, { role: 'user', content: 'retry' })]);
        expect(stored.map((event) => event.id)).toEqual([fresh.id, old.id]);
        expect(stored[0]?.sequence).toBe(2);
        expect(stored[1]).toEqual(storedOld);
        expect(await store().getLatestSequence(session.id)).toBe(2);
      });

      check(
        'appendEvents',
        'appendEvents - maps a repeated id inside the batch to the same stored event',
        async () => {
          const session = await newSession();
          const a = eventOf(session.id);
          const b = eventOf(session.id);
          const stored = await store().appendEvents([a, b, a, { ...b }, eventOf(session.id)]);
          expect(sequences(stored)).toEqual([1, 2, 1, 2, 3]);
          expect(stored[2]).toEqual(stored[0]);
          expect(stored[3]).toEqual(stored[1]);
          expect(await store().getLatestSequence(session.id)).toBe(3);
          expect(sequences(await store().getEvents(session.id))).toEqual([1, 2, 3]);
        },
      );

      check(
        'appendEvents',
        'appendEvents - a retried batch stores nothing new and returns the same sequences',
        async () => {
          const session = await newSession();
          const batch = [eventOf(session.id), eventOf(session.id), eventOf(session.id)];
          const first = await store().appendEvents(batch);
          const second = await store().appendEvents(batch);
          expect(second).toEqual(first);
          expect(await store().getLatestSequence(session.id)).toBe(3);
        },
      );

      check(
        'appendEvents',
        'appendEvents - spans several sessions with per-session contiguous sequences',
        async () => {
          const one = await newSession();
          const two = await newSession();
          await store().appendEvent(eventOf(two.id));
          const stored = await store().appendEvents([
            eventOf(one.id),
            eventOf(two.id),
            eventOf(one.id),
            eventOf(two.id),
          ]);
          expect(stored.map((event) => [event.sessionId, event.sequence])).toEqual([
            [one.id, 1],
            [two.id, 2],
            [one.id, 2],
            [two.id, 3],
          ]);
        },
      );

      check(
        'appendEvents',
        'appendEvents - is all or nothing: an invalid type writes nothing (invalid_event_type)',
        async () => {
          const session = await newSession();
          await store().appendEvent(eventOf(session.id));
          const good = eventOf(session.id);
          await expectAsmError(
            store().appendEvents([good, eventOf(session.id), invalidType(eventOf(session.id))]),
            'invalid_event_type',
          );
          expect(await store().getLatestSequence(session.id)).toBe(1);
          expect(await store().getEvents(session.id)).toHaveLength(1);
          // The ids of the rejected batch were not consumed.
          expect((await store().appendEvent(good)).sequence).toBe(2);
        },
      );

      check(
        'appendEvents',
        'appendEvents - is all or nothing: invalid data writes nothing (validation_error)',
        async () => {
          const session = await newSession();
          const bad = { ...eventOf(session.id), data: null } as unknown as NewEvent;
          await expectAsmError(store().appendEvents([eventOf(session.id), bad]), 'validation_error');
          const noId = { ...eventOf(session.id), id: '' } as unknown as NewEvent;
          await expectAsmError(store().appendEvents([eventOf(session.id), noId]), 'validation_error');
          expect(await store().getLatestSequence(session.id)).toBe(0);
        },
      );

      check(
        'appendEvents',
        'appendEvents - is all or nothing: a missing session writes nothing (session_not_found)',
        async () => {
          const session = await newSession();
          const missing = `ses_${randomHex(32)}`;
          await expectAsmError(
            store().appendEvents([eventOf(session.id), eventOf(missing)]),
            'session_not_found',
          );
          expect(await store().getLatestSequence(session.id)).toBe(0);
        },
      );

      check(
        'appendEvents',
        'appendEvents - is all or nothing: an id stored in another session writes nothing',
        async () => {
          const one = await newSession();
          const two = await newSession();
          const taken = eventOf(one.id);
          await store().appendEvent(taken);
          await expectAsmError(
            store().appendEvents([eventOf(two.id), { ...taken, sessionId: two.id }]),
            'validation_error',
          );
          expect(await store().getLatestSequence(two.id)).toBe(0);
          expect(await store().getLatestSequence(one.id)).toBe(1);
        },
      );
    });

    describe('concurrency', () => {
      check(
        'concurrency',
        'sequence contract - 100 concurrent appenders x 10 iterations leave exactly 1..N',
        async () => {
          const session = await newSession();
          const writers = 100;
          const iterations = 10;
          const expectedIds = new Set<string>();
          const returned = new Map<string, number>();
          const record = (event: StoredEvent): void => {
            const seen = returned.get(event.id);
            if (seen !== undefined) expect(event.sequence).toBe(seen);
            returned.set(event.id, event.sequence);
          };
          const writer = async (index: number): Promise<void> => {
            let first: NewEvent | undefined;
            for (let iteration = 0; iteration < iterations; iteration++) {
              if ((index + iteration) % 3 === 0) {
                const batch = [eventOf(session.id), eventOf(session.id)];
                if (iteration % 2 === 1) batch.push(eventOf(session.id));
                for (const event of batch) expectedIds.add(event.id);
                (await store().appendEvents(batch)).forEach(record);
                first ??= batch[0];
              } else if (iteration === iterations - 1 && first !== undefined) {
                // A retried write: must return the original sequence and consume no number.
                record(await store().appendEvent(first));
              } else {
                const event = eventOf(session.id);
                expectedIds.add(event.id);
                record(await store().appendEvent(event));
                first ??= event;
              }
            }
          };
          await Promise.all(Array.from({ length: writers }, (_, index) => writer(index)));

          const total = expectedIds.size;
          const events = await readAll(store(), session.id);
          expect(sequences(events)).toEqual(Array.from({ length: total }, (_, index) => index + 1));
          expect(new Set(events.map((event) => event.id))).toEqual(expectedIds);
          expect(await store().getLatestSequence(session.id)).toBe(total);
          for (const event of events) expect(returned.get(event.id)).toBe(event.sequence);
        },
      );

      check(
        'concurrency',
        'orderedConcurrentAppends - batches sent together are stored in call order',
        async () => {
          const declared = store().orderedConcurrentAppends;
          expect(declared === undefined || typeof declared === 'boolean').toBe(true);
          // Only a store that declares it promises the order; any store must still store everything.
          const session = await newSession();
          const batches = Array.from({ length: 8 }, () =>
            Array.from({ length: 25 }, () => eventOf(session.id)),
          );
          const results = await Promise.all(batches.map((batch) => store().appendEvents(batch)));
          const stored = await readAll(store(), session.id);
          expect(sequences(stored)).toEqual(Array.from({ length: 200 }, (_, index) => index + 1));
          if (declared === true) {
            expect(results.flat().map((event) => event.id)).toEqual(batches.flat().map((event) => event.id));
            expect(sequences(results.flat())).toEqual(Array.from({ length: 200 }, (_, index) => index + 1));
          }
        },
      );

      check(
        'concurrency',
        'sequence contract - concurrent appends to different sessions stay independent',
        async () => {
          const sessions = await Promise.all(Array.from({ length: 5 }, () => newSession()));
          await Promise.all(
            sessions.flatMap((session) =>
              Array.from({ length: 20 }, (_, index) =>
                index % 4 === 0
                  ? store().appendEvents([eventOf(session.id), eventOf(session.id)])
                  : store().appendEvent(eventOf(session.id)),
              ),
            ),
          );
          for (const session of sessions) {
            expect(await store().getLatestSequence(session.id)).toBe(25);
            expect(sequences(await readAll(store(), session.id))).toEqual(
              Array.from({ length: 25 }, (_, i) => i + 1),
            );
          }
        },
      );
    });

    describe('getEvents', () => {
      /** 10 events: runs A (seq 1-5) and B (6-10), alternating types, timestamps a second apart. */
      const seed = async (): Promise<{
        sessionId: string;
        runA: string;
        runB: string;
        events: StoredEvent[];
      }> => {
        const session = await newSession();
        const runA = (await newRun(session.id)).id;
        const runB = (await newRun(session.id)).id;
        const batch = Array.from({ length: 10 }, (_, index) =>
          eventOf(session.id, {
            runId: index < 5 ? runA : runB,
            type: index % 2 === 0 ? 'message_streamed' : 'tool_call_started',
            timestamp: isoAt(index),
          }),
        );
        const events = await store().appendEvents(batch);
        return { sessionId: session.id, runA, runB, events };
      };

      check('getEvents', 'getEvents - returns every event in sequence order without a query', async () => {
        const { sessionId } = await seed();
        expect(sequences(await store().getEvents(sessionId))).toEqual(range(1, 10));
        expect(sequences(await store().getEvents(sessionId, {}))).toEqual(range(1, 10));
      });

      check(
        'getEvents',
        'getEvents - returns [] for a session without events or a missing session',
        async () => {
          const session = await newSession();
          expect(await store().getEvents(session.id)).toEqual([]);
          expect(await store().getEvents(`ses_${randomHex(32)}`)).toEqual([]);
        },
      );

      check('getEvents', 'getEvents - after is strict (sequence > after)', async () => {
        const { sessionId } = await seed();
        expect(sequences(await store().getEvents(sessionId, { after: 0 }))).toEqual(range(1, 10));
        expect(sequences(await store().getEvents(sessionId, { after: 7 }))).toEqual([8, 9, 10]);
        expect(await store().getEvents(sessionId, { after: 10 })).toEqual([]);
        expect(await store().getEvents(sessionId, { after: 50 })).toEqual([]);
      });

      check('getEvents', 'getEvents - before is strict (sequence < before)', async () => {
        const { sessionId } = await seed();
        expect(sequences(await store().getEvents(sessionId, { before: 4 }))).toEqual([1, 2, 3]);
        expect(await store().getEvents(sessionId, { before: 1 })).toEqual([]);
        expect(sequences(await store().getEvents(sessionId, { after: 3, before: 6 }))).toEqual([4, 5]);
        expect(sequences(await store().getEvents(sessionId, { before: 99 }))).toEqual(range(1, 10));
      });

      check('getEvents', 'getEvents - limit keeps the first events in sequence order', async () => {
        const { sessionId } = await seed();
        expect(sequences(await store().getEvents(sessionId, { limit: 3 }))).toEqual([1, 2, 3]);
        expect(sequences(await store().getEvents(sessionId, { after: 8, limit: 5 }))).toEqual([9, 10]);
        expect(sequences(await store().getEvents(sessionId, { limit: 1000 }))).toEqual(range(1, 10));
      });

      check('getEvents', 'getEvents - pages through the log with after + limit', async () => {
        const { sessionId } = await seed();
        const pages: number[][] = [];
        let after = 0;
        for (;;) {
          const page = await store().getEvents(sessionId, { after, limit: 4 });
          if (page.length === 0) break;
          pages.push(sequences(page));
          after = page[page.length - 1]!.sequence;
        }
        expect(pages).toEqual([
          [1, 2, 3, 4],
          [5, 6, 7, 8],
          [9, 10],
        ]);
      });

      check('getEvents', 'getEvents - filters by runId', async () => {
        const { sessionId, runA, runB } = await seed();
        expect(sequences(await store().getEvents(sessionId, { runId: runA }))).toEqual([1, 2, 3, 4, 5]);
        expect(sequences(await store().getEvents(sessionId, { runId: runB }))).toEqual([6, 7, 8, 9, 10]);
        expect(await store().getEvents(sessionId, { runId: `run_${randomHex(32)}` })).toEqual([]);
      });

      check('getEvents', 'getEvents - filters by types', async () => {
        const { sessionId } = await seed();
        expect(sequences(await store().getEvents(sessionId, { types: ['tool_call_started'] }))).toEqual([
          2, 4, 6, 8, 10,
        ]);
        expect(
          sequences(await store().getEvents(sessionId, { types: ['tool_call_started', 'message_streamed'] })),
        ).toEqual(range(1, 10));
        expect(await store().getEvents(sessionId, { types: ['run_failed'] })).toEqual([]);
      });

      check('getEvents', 'getEvents - since is inclusive (timestamp >= since)', async () => {
        const { sessionId } = await seed();
        expect(sequences(await store().getEvents(sessionId, { since: isoAt(7) }))).toEqual([8, 9, 10]);
        expect(sequences(await store().getEvents(sessionId, { since: isoAt(0) }))).toEqual(range(1, 10));
        expect(await store().getEvents(sessionId, { since: isoAt(60) })).toEqual([]);
      });

      check('getEvents', 'getEvents - combines every filter with AND and applies limit last', async () => {
        const { sessionId, runA, runB } = await seed();
        expect(
          sequences(
            await store().getEvents(sessionId, {
              after: 1,
              before: 10,
              runId: runB,
              types: ['message_streamed'],
              since: isoAt(6),
              limit: 1,
            }),
          ),
        ).toEqual([7]);
        expect(
          sequences(
            await store().getEvents(sessionId, { runId: runA, types: ['tool_call_started'], after: 2 }),
          ),
        ).toEqual([4]);
        expect(
          sequences(await store().getEvents(sessionId, { types: ['tool_call_started'], limit: 2 })),
        ).toEqual([2, 4]);
        expect(
          await store().getEvents(sessionId, { runId: runA, since: isoAt(5), types: ['message_streamed'] }),
        ).toEqual([]);
      });

      check(
        'getEvents',
        'getEvents - rejects a limit that is not a positive integer with validation_error',
        async () => {
          const { sessionId } = await seed();
          for (const limit of [0, -1, 1.5, Number.NaN]) {
            await expectAsmError(store().getEvents(sessionId, { limit }), 'validation_error');
          }
        },
      );

      check(
        'getEvents',
        'getLatestSequence - is 0 for an empty or missing session, else the highest sequence',
        async () => {
          const session = await newSession();
          expect(await store().getLatestSequence(session.id)).toBe(0);
          expect(await store().getLatestSequence(`ses_${randomHex(32)}`)).toBe(0);
          await store().appendEvents([eventOf(session.id), eventOf(session.id)]);
          expect(await store().getLatestSequence(session.id)).toBe(2);
          await store().appendEvent(eventOf(session.id));
          expect(await store().getLatestSequence(session.id)).toBe(3);
        },
      );
    });

    describe('long-poll', () => {
      const requireLongPoll = (context: TestContext): void => {
        if (!store().supportsLongPoll) context.skip('the store does not support long-poll');
      };

      check(
        'longPoll',
        'getEvents long-poll - answers at once when events already match',
        async (context) => {
          requireLongPoll(context);
          const session = await newSession();
          await store().appendEvent(eventOf(session.id));
          const events = await store().getEvents(session.id, { after: 0, waitMs: 60_000 });
          expect(sequences(events)).toEqual([1]);
        },
      );

      check(
        'longPoll',
        'getEvents long-poll - wakes on an append made after the call started',
        async (context) => {
          requireLongPoll(context);
          const session = await newSession();
          await store().appendEvent(eventOf(session.id));
          const polling = store().getEvents(session.id, { after: 1, waitMs: 60_000 });
          await sleep(20);
          const appended = await store().appendEvents([eventOf(session.id), eventOf(session.id)]);
          const events = await polling;
          expect(events.length).toBeGreaterThan(0);
          expect(events[0]).toEqual(appended[0]);
          expect(sequences(events)).toEqual(sequences(appended).slice(0, events.length));
        },
      );

      check('longPoll', 'getEvents long-poll - times out with []', async (context) => {
        requireLongPoll(context);
        const session = await newSession();
        await store().appendEvent(eventOf(session.id));
        expect(await store().getEvents(session.id, { after: 1, waitMs: 80 })).toEqual([]);
        expect(await store().getEvents(`ses_${randomHex(32)}`, { waitMs: 50 })).toEqual([]);
      });

      check(
        'longPoll',
        'getEvents long-poll - ignores appends that do not match its types filter',
        async (context) => {
          requireLongPoll(context);
          const session = await newSession();
          const polling = store().getEvents(session.id, { types: ['run_completed'], waitMs: 60_000 });
          await sleep(20);
          await store().appendEvent(eventOf(session.id, { type: 'message_sent' }));
          await sleep(40);
          const match = await store().appendEvent(eventOf(session.id, { type: 'run_completed' }));
          expect(await polling).toEqual([match]);
        },
      );

      check(
        'longPoll',
        'getEvents long-poll - ignores appends that do not match its runId filter',
        async (context) => {
          requireLongPoll(context);
          const session = await newSession();
          const runA = await newRun(session.id);
          const runB = await newRun(session.id);
          const polling = store().getEvents(session.id, { runId: runB.id, waitMs: 60_000 });
          await sleep(20);
          await store().appendEvent(eventOf(session.id, { runId: runA.id }));
          await sleep(40);
          const match = await store().appendEvent(eventOf(session.id, { runId: runB.id }));
          expect(await polling).toEqual([match]);
        },
      );

      check('longPoll', 'getEvents long-poll - ignores appends to other sessions', async (context) => {
        requireLongPoll(context);
        const watched = await newSession();
        const other = await newSession();
        const polling = store().getEvents(watched.id, { waitMs: 60_000 });
        await sleep(20);
        await store().appendEvent(eventOf(other.id));
        await sleep(40);
        const match = await store().appendEvent(eventOf(watched.id));
        expect(await polling).toEqual([match]);
      });

      check('longPoll', 'getEvents long-poll - ends when its abort signal fires', async (context) => {
        requireLongPoll(context);
        const session = await newSession();
        const controller = new AbortController();
        const polling = store().getEvents(session.id, { waitMs: 60_000, signal: controller.signal });
        await sleep(20);
        controller.abort();
        expect(await polling).toEqual([]);
        const aborted = AbortSignal.abort();
        expect(await store().getEvents(session.id, { waitMs: 60_000, signal: aborted })).toEqual([]);
      });

      check('longPoll', 'getEvents long-poll - close() releases parked callers with []', async (context) => {
        requireLongPoll(context);
        const session = await newSession();
        const polling = store().getEvents(session.id, { waitMs: 60_000 });
        await sleep(20);
        await store().close();
        expect(await polling).toEqual([]);
      });
    });

    describe('close', () => {
      check(
        'close',
        'close - is idempotent and every method then rejects with storage_connection_failed',
        async () => {
          const session = await newSession();
          const run = await newRun(session.id);
          await store().close();
          await store().close();
          const s = store();
          const calls: Array<[string, () => Promise<unknown>]> = [
            ['saveSession', () => s.saveSession(session)],
            ['getSession', () => s.getSession(session.id)],
            ['listSessions', () => s.listSessions()],
            ['deleteSession', () => s.deleteSession(session.id)],
            ['saveRun', () => s.saveRun(run)],
            ['getRun', () => s.getRun(run.id)],
            ['listRuns', () => s.listRuns(session.id)],
            ['appendEvent', () => s.appendEvent(eventOf(session.id))],
            ['appendEvents', () => s.appendEvents([eventOf(session.id)])],
            ['getEvents', () => s.getEvents(session.id)],
            ['getLatestSequence', () => s.getLatestSequence(session.id)],
          ];
          for (const [method, call] of calls) {
            await expectAsmError(call(), 'storage_connection_failed', method);
          }
          await s.close();
        },
      );
    });

    describe('payloads', () => {
      check('payloads', 'payloads - a 1 MiB string in event data round-trips', async () => {
        const session = await newSession();
        const big = 'abcdefghijklmnopqrstuvwxyz012345'.repeat(32_768);
        expect(big.length).toBe(1_048_576);
        const event = eventOf(session.id, { type: 'tool_call_completed', data: { toolOutput: big } });
        await store().appendEvent(event);
        const [read] = await store().getEvents(session.id);
        expect(read?.data.toolOutput).toBe(big);
      });

      check(
        'payloads',
        'payloads - unicode round-trips in session metadata, run input and event data',
        async () => {
          const session = createSession({
            agentId,
            metadata: { text: UNICODE, list: UNICODE_SAMPLES, [UNICODE_SAMPLES[0]!]: 'key' },
            context: { systemPrompt: UNICODE },
            tags: UNICODE_SAMPLES,
          });
          await store().saveSession(session);
          expect(await store().getSession(session.id)).toEqual(session);

          const run = createRun({ sessionId: session.id, input: { prompt: UNICODE } });
          await store().saveRun(run);
          expect(await store().getRun(run.id)).toEqual(run);

          const event = eventOf(session.id, {
            runId: run.id,
            type: 'message_sent',
            data: { role: 'user', content: UNICODE, samples: UNICODE_SAMPLES },
          });
          await store().appendEvent(event);
          const [read] = await store().getEvents(session.id);
          expect(read).toEqual({ ...event, sequence: 1 });
          expect(read?.data.content).toBe(UNICODE);
        },
      );

      check('payloads', 'payloads - stored events survive a JSON round trip', async () => {
        const session = await newSession();
        const run = await newRun(session.id);
        const sent = [
          eventOf(session.id, {
            runId: run.id,
            type: 'tool_call_completed',
            data: {
              toolCallId: 'tc_1',
              toolName: 'read',
              toolInput: { path: '/tmp/x', flags: [true, false, null] },
              toolOutput: { lines: 3, nested: { deep: [1.5, -2, 0] } },
            },
            metadata: { provider: 'mock', trace: { span: 'a' } },
          }),
          eventOf(session.id, { runId: run.id, type: 'run_completed', data: { stopReason: 'end_turn' } }),
        ];
        await store().appendEvents(sent);
        const events = await store().getEvents(session.id);
        for (const [index, event] of events.entries()) {
          const json: unknown = JSON.parse(JSON.stringify(event));
          expect(json).toEqual(event);
          expect(eventFromJSON(json)).toEqual(event);
          expect(event).toEqual({ ...sent[index], sequence: index + 1 });
        }
      });
    });
  });
}

/**
 * Asserts that a promise rejects with an `AsmError` (any copy of core) of this code, and returns the
 * error.
 */
async function expectAsmError(promise: Promise<unknown>, code: ErrorCode, label = ''): Promise<AsmError> {
  let outcome: { error: unknown } | undefined;
  try {
    await promise;
  } catch (error) {
    outcome = { error };
  }
  const where = label === '' ? '' : `${label}: `;
  if (outcome === undefined) {
    throw new Error(`${where}expected an AsmError ${code}, but the promise resolved`);
  }
  const { error } = outcome;
  expect(AsmError.isInstance(error), `${where}expected an AsmError ${code}, got ${String(error)}`).toBe(true);
  expect((error as AsmError).code, `${where}error code`).toBe(code);
  return error as AsmError;
}

const UNICODE_SAMPLES = [
  'emoji 👩🏽‍💻 🎉 🇯🇵',
  'CJK 漢字 かな カナ 한국어',
  'RTL مرحبا بالعالم שלום',
  'combining e\u0301 a\u0308 n\u0303 Z\u0335\u0321',
  'astral 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𠜎 𝄞',
];
const UNICODE = UNICODE_SAMPLES.join(' | ');

type EventOverrides = {
  type?: EventType;
  runId?: string;
  data?: Record<string, unknown>;
  metadata?: Record<string, unknown>;
  timestamp?: string;
};

/** A new event of the session (`message_sent` unless `type` says otherwise). */
function eventOf(sessionId: string, overrides: EventOverrides = {}): NewEvent {
  const type = overrides.type ?? 'message_sent';
  const attributes: NewEventAttributes = {
    type,
    sessionId,
    id: newEventId(),
    data: (overrides.data ?? (type === 'message_sent' ? { role: 'user', content: 'hello' } : {})) as never,
  };
  if (overrides.runId !== undefined) attributes.runId = overrides.runId;
  if (overrides.metadata !== undefined) attributes.metadata = overrides.metadata;
  if (overrides.timestamp !== undefined) attributes.timestamp = overrides.timestamp;
  return createEvent(attributes) as NewEvent;
}

/** A copy of the event with other data (same id). */
function withData(event: NewEvent, data: Record<string, unknown>): NewEvent {
  return { ...event, data } as NewEvent;
}

/** The event with an unknown type (what `createEvent` refuses to build). */
function invalidType(event: NewEvent): NewEvent {
  return { ...event, type: 'not_an_event_type' } as unknown as NewEvent;
}

/** Reads the whole log page by page (some stores cap a single read). */
async function readAll(store: SessionStore, sessionId: string): Promise<StoredEvent[]> {
  const all: StoredEvent[] = [];
  let after = 0;
  for (;;) {
    const page = await store.getEvents(sessionId, { after, limit: 250 });
    const last = page[page.length - 1];
    if (last === undefined) return all;
    all.push(...page);
    after = last.sequence;
  }
}

/** A fixed ISO timestamp `seconds` after 2024-01-01T00:00:00Z. */
function isoAt(seconds: number): string {
  return new Date(Date.UTC(2024, 0, 1) + seconds * 1000).toISOString();
}

/** An ISO timestamp `seconds` from now. */
function laterIso(seconds: number): string {
  return new Date(Date.now() + seconds * 1000).toISOString();
}

function ids(records: ReadonlyArray<{ id: string }>): string[] {
  return records.map((record) => record.id);
}

function sequences(events: readonly StoredEvent[]): number[] {
  return events.map((event) => event.sequence);
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, index) => from + index);
}

function randomHex(length: number): string {
  let hex = '';
  while (hex.length < length)
    hex += Math.floor(Math.random() * 0x1_0000_0000)
      .toString(16)
      .padStart(8, '0');
  return hex.slice(0, length);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
