import {
  type ArtifactRegistry,
  AsmError,
  createEvent,
  createInMemoryArtifactRegistry,
  createInMemoryArtifactStore,
  createRun,
  createSession,
  type EventType,
  type MaintenanceArtifacts,
  type NewEvent,
  type Session,
  type SessionStore,
  type StoreMaintenance,
  sha256Hex,
} from '@asm/core';
import { describe, expect, it } from 'vitest';

/** What `create` of `testStoreMaintenance` receives: pass both to the maintenance factory. */
export interface StoreMaintenanceContext {
  /** The suite's fixed clock. */
  now: () => Date;
  /** The registry and blob store to clean, when the test uses artifacts. */
  artifacts?: MaintenanceArtifacts;
}

/** A store with its maintenance, as `create` returns them. */
export interface MaintainedStore {
  store: SessionStore;
  maintenance: StoreMaintenance;
}

/** Options of `testStoreMaintenance`. */
export interface TestStoreMaintenanceOptions {
  /** Shown in test names. */
  name?: string;
  /**
   * A fresh, empty store and its maintenance, made with `context` (`{ now, artifacts }` passed on to
   * the factory). Maintenance works store-wide, so every call needs a store of its own: a new
   * schema, key prefix or database.
   */
  create: (context: StoreMaintenanceContext) => MaintainedStore | Promise<MaintainedStore>;
  /** Releases what `create` made. Default: `store.close()`. */
  cleanup?: (made: MaintainedStore) => void | Promise<void>;
  /** Per-test timeout in ms. Default 30,000. */
  timeoutMs?: number;
}

async function code(promise: Promise<unknown>): Promise<string | undefined> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  return AsmError.isInstance(error) ? error.code : `not an AsmError: ${String(error)}`;
}

const NOW = new Date('2026-06-01T00:00:00.000Z');
const daysAgo = (days: number): string => new Date(NOW.getTime() - days * 86_400_000).toISOString();

/**
 * The conformance suite of core's `StoreMaintenance` (spec 2.5 and 11.5): soft delete with exempt
 * statuses and tags, hard delete with cascade and batches, pruning order (first-to-prune types, then
 * the oldest, never protected types) without sequence reuse, orphaned artifacts (rows of deleted
 * sessions with their blobs, rows whose blob is gone), the report of `runMaintenance` with a failing
 * step collected rather than thrown, policy validation, `healthCheck`, and a closed store.
 */
export function testStoreMaintenance(options: TestStoreMaintenanceOptions): void {
  const timeout = options.timeoutMs ?? 30_000;
  const withStore =
    (
      body: (
        made: MaintainedStore & { save: (overrides: Partial<Session>) => Promise<Session> },
      ) => Promise<void>,
      artifacts?: () => MaintenanceArtifacts,
    ) =>
    async () => {
      const context: StoreMaintenanceContext = { now: () => new Date(NOW) };
      const given = artifacts?.();
      if (given !== undefined) context.artifacts = given;
      const made = await options.create(context);
      const save = async (overrides: Partial<Session>): Promise<Session> => {
        // Recent by the suite's clock unless the test says otherwise.
        const session = {
          ...createSession({ agentId: 'agent_maintenance' }),
          createdAt: daysAgo(1),
          updatedAt: daysAgo(1),
          ...overrides,
        };
        await made.store.saveSession(session);
        return session;
      };
      try {
        await body({ ...made, save });
      } finally {
        await (options.cleanup ? options.cleanup(made) : made.store.close());
      }
    };
  const events = (sessionId: string, types: EventType[]): NewEvent[] =>
    types.map((type) => createEvent({ type, sessionId }) as NewEvent);

  describe(`StoreMaintenance conformance: ${options.name ?? 'store'}`, () => {
    it(
      'softDeleteExpiredSessions - marks sessions idle past the age, except exempt statuses and tags',
      withStore(async ({ store, maintenance, save }) => {
        const old = await save({ status: 'completed', updatedAt: daysAgo(100) });
        const oldFailed = await save({ status: 'failed', updatedAt: daysAgo(91) });
        const oldActive = await save({ status: 'active', updatedAt: daysAgo(100) });
        const pinned = await save({ status: 'completed', tags: ['x', 'pinned'], updatedAt: daysAgo(100) });
        const recent = await save({ status: 'completed', updatedAt: daysAgo(10) });
        expect(await maintenance.softDeleteExpiredSessions()).toBe(2);
        expect((await store.getSession(old.id))?.deletedAt).toBe(NOW.toISOString());
        expect((await store.getSession(oldFailed.id))?.deletedAt).toBe(NOW.toISOString());
        for (const kept of [oldActive, pinned, recent]) {
          expect((await store.getSession(kept.id))?.deletedAt).toBeUndefined();
        }
        // Already soft-deleted sessions are not counted again.
        expect(await maintenance.softDeleteExpiredSessions()).toBe(0);
        expect(
          await maintenance.softDeleteExpiredSessions({ maxCompletedSessionAgeDays: 5, exemptTags: [] }),
        ).toBe(2);
        expect(
          await maintenance.softDeleteExpiredSessions({
            maxCompletedSessionAgeDays: Number.POSITIVE_INFINITY,
          }),
        ).toBe(0);
      }),
      timeout,
    );

    it(
      'hardDeleteExpiredSessions - removes sessions soft-deleted long enough ago with runs and events, in batches',
      withStore(async ({ store, maintenance, save }) => {
        const gone = await save({ deletedAt: daysAgo(31) });
        const goneToo = await save({ deletedAt: daysAgo(45) });
        const graced = await save({ deletedAt: daysAgo(5) });
        const live = await save({ status: 'completed', updatedAt: daysAgo(300) });
        for (const session of [gone, graced]) {
          const run = await store.saveRun(createRun({ sessionId: session.id }));
          await store.appendEvents(
            events(session.id, ['run_started', 'run_completed']).map((event) => ({
              ...event,
              runId: run.id,
            })),
          );
        }
        expect(await maintenance.hardDeleteExpiredSessions({ batchSize: 1 })).toBe(2);
        for (const id of [gone.id, goneToo.id]) {
          expect(await store.getSession(id)).toBeUndefined();
          expect(await store.listRuns(id)).toEqual([]);
          expect(await store.getEvents(id)).toEqual([]);
          expect(await store.getLatestSequence(id)).toBe(0);
        }
        expect(await store.getSession(graced.id)).toBeDefined();
        expect(await store.getEvents(graced.id)).toHaveLength(2);
        // Hard delete never touches a session that was not soft-deleted, however old.
        expect(await store.getSession(live.id)).toBeDefined();
        expect(
          await maintenance.hardDeleteExpiredSessions({ hardDeleteAfterDays: Number.POSITIVE_INFINITY }),
        ).toBe(0);
        expect(await maintenance.healthCheck()).toEqual([]);
      }),
      timeout,
    );

    it(
      'pruneSessionEvents - first-to-prune types oldest first, never protected types, never reuses a sequence',
      withStore(async ({ store, maintenance, save }) => {
        const session = await save({});
        const types: EventType[] = [
          'session_created',
          'run_started',
          'message_streamed',
          'message_sent',
          'message_streamed',
          'token_usage_updated',
          'message_received',
          'run_completed',
        ];
        await store.appendEvents(events(session.id, types));
        // 8 events, keep 4: the 3 first-to-prune go, then the oldest unprotected one (message_sent).
        expect(await maintenance.pruneSessionEvents(session.id, { maxEventsPerSession: 4 })).toBe(4);
        const left = await store.getEvents(session.id);
        expect(left.map((event) => [event.sequence, event.type])).toEqual([
          [1, 'session_created'],
          [2, 'run_started'],
          [7, 'message_received'],
          [8, 'run_completed'],
        ]);
        // Cursors keep working across the holes.
        expect((await store.getEvents(session.id, { after: 2 })).map((event) => event.sequence)).toEqual([
          7, 8,
        ]);
        expect(
          (await store.getEvents(session.id, { after: 1, limit: 2 })).map((event) => event.sequence),
        ).toEqual([2, 7]);
        expect((await store.getEvents(session.id, { before: 8 })).map((event) => event.sequence)).toEqual([
          1, 2, 7,
        ]);
        expect(await store.getLatestSequence(session.id)).toBe(8);
        // Protected events are never pruned, even over the limit.
        expect(await maintenance.pruneSessionEvents(session.id, { maxEventsPerSession: 1 })).toBe(1);
        expect((await store.getEvents(session.id)).map((event) => event.type)).toEqual([
          'session_created',
          'run_started',
          'run_completed',
        ]);
        // The last event was pruned: its number is still not handed out again.
        const tail = await save({});
        await store.appendEvents(events(tail.id, ['run_started', 'message_streamed']));
        expect(await maintenance.pruneSessionEvents(tail.id, { maxEventsPerSession: 1 })).toBe(1);
        expect(await store.getLatestSequence(tail.id)).toBe(2);
        const [next] = await store.appendEvents(events(tail.id, ['message_sent']));
        expect(next?.sequence).toBe(3);
        expect((await store.getEvents(tail.id)).map((event) => event.sequence)).toEqual([1, 3]);
        const appended = await store.appendEvent(events(session.id, ['message_sent'])[0]!);
        expect(appended.sequence).toBe(9);
        expect(
          await maintenance.pruneSessionEvents(`ses_unknown_${Date.now()}`, { maxEventsPerSession: 1 }),
        ).toBe(0);
        expect(await maintenance.pruneSessionEvents(session.id)).toBe(0); // default: no limit
      }),
      timeout,
    );

    it(
      'pruneSessionEvents - appends racing a prune get fresh, distinct sequences',
      withStore(async ({ store, maintenance, save }) => {
        const session = await save({});
        await store.appendEvents(
          events(
            session.id,
            Array.from({ length: 20 }, () => 'message_streamed' as const),
          ),
        );
        const racing = Array.from({ length: 10 }, () =>
          store.appendEvent(events(session.id, ['message_sent'])[0]!),
        );
        const [pruned, ...appended] = await Promise.all([
          // At most 30 - 12 = 18 go, all of them streamed deltas, whichever appends came first.
          maintenance.pruneSessionEvents(session.id, { maxEventsPerSession: 12 }),
          ...racing,
        ]);
        expect(pruned).toBeGreaterThan(0);
        const sequences = appended.map((event) => event.sequence).sort((left, right) => left - right);
        expect(sequences).toEqual(Array.from({ length: 10 }, (_, index) => 21 + index));
        expect(await store.getLatestSequence(session.id)).toBe(30);
        const stored = await store.getEvents(session.id);
        expect(stored.map((event) => event.type).filter((type) => type === 'message_sent')).toHaveLength(10);
      }),
      timeout,
    );

    const registry = createInMemoryArtifactRegistry();
    const blobs = createInMemoryArtifactStore();
    const rowsOnly = createInMemoryArtifactRegistry();
    it(
      'runMaintenance - runs every step and reports each count; orphaned artifacts go with their blobs',
      withStore(
        async ({ store, maintenance, save }) => {
          await save({ status: 'completed', updatedAt: daysAgo(200) });
          const expired = await save({ deletedAt: daysAgo(60) });
          const busy = await save({});
          await store.appendEvents(
            events(
              busy.id,
              Array.from({ length: 6 }, () => 'message_streamed' as const),
            ),
          );
          const tag = Math.random().toString(16).slice(2);
          const put = async (name: string, sessionId?: string, withBlob = true) => {
            const key = `suite/${tag}/${name}`;
            if (withBlob) await blobs.put(key, name);
            await registry.register({
              key,
              byteSize: name.length,
              sha256: sha256Hex(name),
              backend: 'memory',
              reference: key,
              ...(sessionId === undefined ? {} : { sessionId }),
            });
            return key;
          };
          const ofExpired = await put('expired', expired.id);
          const ofNever = await put('never', `ses_never_saved_${tag}`);
          const kept = await put('kept', busy.id);
          const loose = await put('loose');
          const blobless = await put('blobless', busy.id, false);

          const report = await maintenance.runMaintenance({ maxEventsPerSession: 2 });
          expect(report).toEqual({
            sessionsSoftDeleted: 1,
            sessionsHardDeleted: 1,
            eventsPruned: 4,
            artifactsCleaned: 3,
            orphanedSequencesCleaned: expect.any(Number),
            durationMs: expect.any(Number),
            errors: [],
          });
          expect(report.durationMs).toBeGreaterThanOrEqual(0);
          expect(await store.getSession(expired.id)).toBeUndefined();
          for (const key of [ofExpired, ofNever, blobless])
            expect(await registry.lookup(key)).toBeUndefined();
          for (const key of [ofExpired, ofNever]) expect(await blobs.get(key)).toBeUndefined();
          for (const key of [kept, loose]) {
            expect(await registry.lookup(key)).toBeDefined();
            expect(new TextDecoder().decode(await blobs.get(key))).toBe(key.split('/').at(-1));
          }
          expect(await maintenance.healthCheck()).toEqual([]);
          // A second pass finds nothing left to do.
          expect(await maintenance.runMaintenance({ maxEventsPerSession: 2 })).toMatchObject({
            sessionsSoftDeleted: 0,
            sessionsHardDeleted: 0,
            eventsPruned: 0,
            artifactsCleaned: 0,
            orphanedSequencesCleaned: 0,
            errors: [],
          });
        },
        () => ({ registry, store: blobs }),
      ),
      timeout,
    );

    it(
      'cleanOrphanedArtifacts - without a blob store removes only rows of sessions that are gone',
      withStore(
        async ({ maintenance, save }) => {
          const session = await save({});
          const tag = Math.random().toString(16).slice(2);
          const register = (key: string, sessionId: string) =>
            rowsOnly.register({
              key: `suite/${tag}/${key}`,
              byteSize: 1,
              sha256: sha256Hex('x'),
              backend: 'memory',
              reference: key,
              sessionId,
            });
          await register('live', session.id);
          await register('dead', `ses_gone_${tag}`);
          expect(await maintenance.cleanOrphanedArtifacts()).toBe(1);
          expect((await rowsOnly.list()).items.map((record) => record.key)).toEqual([`suite/${tag}/live`]);
        },
        () => ({ registry: rowsOnly }),
      ),
      timeout,
    );

    it(
      'runMaintenance - a failing step is collected in errors, never thrown, and the other steps still run',
      withStore(
        async ({ store, maintenance, save }) => {
          const old = await save({ status: 'completed', updatedAt: daysAgo(200) });
          const busy = await save({});
          await store.appendEvents(
            events(busy.id, ['message_streamed', 'message_streamed', 'message_streamed']),
          );
          const report = await maintenance.runMaintenance({ maxEventsPerSession: 1 });
          expect(report.sessionsSoftDeleted).toBe(1);
          expect(report.eventsPruned).toBe(2);
          expect(report.artifactsCleaned).toBe(0);
          expect(report.errors).toHaveLength(1);
          expect(report.errors[0]).toMatch(/^cleanOrphanedArtifacts: .*registry unreachable/);
          expect((await store.getSession(old.id))?.deletedAt).toBe(NOW.toISOString());
          // The single step, by contrast, rejects.
          const error = await maintenance.cleanOrphanedArtifacts().catch((caught: unknown) => caught);
          expect(error).toBeInstanceOf(Error);
          expect(String((error as Error).message)).toMatch(/registry unreachable/);
        },
        () => ({ registry: failingRegistry(), store: createInMemoryArtifactStore() }),
      ),
      timeout,
    );

    it(
      'runMaintenance - without artifacts configured reports artifactsCleaned 0',
      withStore(async ({ maintenance, save }) => {
        await save({});
        const report = await maintenance.runMaintenance();
        expect(report.artifactsCleaned).toBe(0);
        expect(report.errors).toEqual([]);
      }),
      timeout,
    );

    it(
      'runMaintenance - an invalid policy is validation_error and deletes nothing',
      withStore(async ({ store, maintenance, save }) => {
        const old = await save({ status: 'completed', updatedAt: daysAgo(200) });
        expect(await code(maintenance.runMaintenance({ batchSize: 1.5 }))).toBe('validation_error');
        expect(await code(maintenance.runMaintenance({ maxEventsPerSession: 0 }))).toBe('validation_error');
        expect(await code(maintenance.runMaintenance({ exemptStatuses: ['bogus' as 'active'] }))).toBe(
          'validation_error',
        );
        expect(
          await code(
            maintenance.pruneSessionEvents(old.id, { protectedEventTypes: ['nope' as 'run_started'] }),
          ),
        ).toBe('validation_error');
        expect(await code(maintenance.softDeleteExpiredSessions({ hardDeleteAfterDays: -1 }))).toBe(
          'validation_error',
        );
        expect((await store.getSession(old.id))?.deletedAt).toBeUndefined();
      }),
      timeout,
    );

    it(
      'healthCheck - empty on a consistent store; a closed store is storage_connection_failed',
      withStore(async ({ store, maintenance, save }) => {
        const session = await save({});
        await store.saveRun(createRun({ sessionId: session.id }));
        await store.appendEvents(events(session.id, ['run_started', 'message_sent', 'run_completed']));
        expect(await maintenance.healthCheck()).toEqual([]);
        await store.close();
        expect(await code(maintenance.healthCheck())).toBe('storage_connection_failed');
        expect(await code(maintenance.runMaintenance())).toBe('storage_connection_failed');
        expect(await code(maintenance.hardDeleteExpiredSessions())).toBe('storage_connection_failed');
      }),
      timeout,
    );
  });
}

/** A registry whose every call fails, as an unreachable database would. */
function failingRegistry(): ArtifactRegistry {
  const fail = async (): Promise<never> => {
    throw new AsmError('storage_connection_failed', 'artifact registry unreachable', { retryable: true });
  };
  return {
    specificationVersion: 'v1',
    register: fail,
    lookup: fail,
    list: fail,
    unregister: fail,
    stats: fail,
  };
}
