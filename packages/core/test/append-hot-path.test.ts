import { describe, expect, it } from 'vitest';
import {
  type AdapterEvent,
  AsmError,
  createEvent,
  createInMemoryStore,
  createRedactor,
  createSession,
  createSessionManager,
  DEFAULT_REDACTION_PATTERNS,
  type ErrorCode,
  EventWriter,
  type ExecuteOptions,
  type NewEvent,
  newEventId,
  type ProviderAdapter,
  type RunExtension,
  type SessionStore,
  type StoredEvent,
  toStoredEvent,
} from '../src/index.js';

/** A provider that emits the given events between its own run_started and run_completed. */
function scriptedProvider(script: (emit: ExecuteOptions['emit']) => void | Promise<void>): ProviderAdapter {
  return {
    specificationVersion: 'v1',
    name: 'scripted',
    capabilities: () => [],
    async execute(_run, _session, options) {
      options.emit({ type: 'run_started', data: { model: 'scripted-1' } });
      await script(options.emit);
      options.emit({ type: 'run_completed', data: { stopReason: 'end_turn' } });
      return { output: { content: 'done', stopReason: 'end_turn' }, tokenUsage: {} as never };
    },
  };
}

function streamed(delta: string, extra: Partial<AdapterEvent> = {}): AdapterEvent {
  return { type: 'message_streamed', data: { kind: 'text', delta }, ...extra } as AdapterEvent;
}

async function rejectionOf(promise: Promise<unknown>): Promise<AsmError> {
  const error: unknown = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(AsmError.isInstance(error), `expected an AsmError, got ${String(error)}`).toBe(true);
  return error as AsmError;
}

function expectCode(error: AsmError, code: ErrorCode): void {
  expect(error.code).toBe(code);
}

describe('newEventId', () => {
  it('newEventId - gives evt_ and 32 lowercase hex characters, all distinct', () => {
    const ids = Array.from({ length: 20_000 }, () => newEventId());
    for (const id of ids) expect(id).toMatch(/^evt_[0-9a-f]{32}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('newEventId - ids made later sort after ids made earlier (time prefix)', async () => {
    const first = newEventId();
    await new Promise((resolve) => setTimeout(resolve, 5));
    const second = newEventId();
    expect(second > first).toBe(true);
    const millis = Number.parseInt(second.slice(4, 16), 16);
    expect(Math.abs(millis - Date.now())).toBeLessThan(60_000);
  });
});

describe('redaction minLength', () => {
  /** The shortest text each default pattern matches; its length is the pattern's `minLength`. */
  const shortest: Record<string, string> = {
    aws_access_key: `AKIA${'A'.repeat(16)}`,
    aws_secret_key: 'awssecretaccesskey:x',
    gcp_api_key: `AIza${'a'.repeat(35)}`,
    anthropic_key: `sk-ant-${'a'.repeat(20)}`,
    openai_key: `sk-proj-${'a'.repeat(20)}`,
    openai_legacy_key: `sk-${'a'.repeat(40)}`,
    github_pat: `ghp_${'a'.repeat(36)}`,
    github_oauth: `gho_${'a'.repeat(36)}`,
    github_app: `ghs_${'a'.repeat(36)}`,
    github_refresh: `ghr_${'a'.repeat(36)}`,
    github_fine_pat: `github_pat_${'a'.repeat(22)}`,
    gitlab_token: `glpat-${'a'.repeat(20)}`,
    jwt_token: `eyJ${'a'.repeat(10)}.${'a'.repeat(10)}.${'a'.repeat(10)}`,
    bearer_token: `bearer ${'a'.repeat(20)}`,
    password: 'pwd:x',
    api_key_generic: 'apikey:x',
    secret_key: 'secretkey:x',
    access_token: 'accesstoken:x',
    auth_token: 'authtoken:x',
    connection_string: 'amqp://x',
    private_key: '-----BEGIN PRIVATE KEY-----',
    env_secret: 'REDIS_URL=x',
  };

  it.each(DEFAULT_REDACTION_PATTERNS.map((entry) => [entry.category, entry] as const))(
    'DEFAULT_REDACTION_PATTERNS - %s declares the length of its shortest match',
    (category, entry) => {
      const text = shortest[category];
      expect(text, `no shortest sample for ${category}`).toBeDefined();
      const pattern = new RegExp(entry.pattern.source, entry.pattern.flags.replace('g', ''));
      expect(pattern.test(text!)).toBe(true);
      expect(pattern.test(text!.slice(1))).toBe(false);
      expect(pattern.test(text!.slice(0, -1))).toBe(false);
      expect(entry.minLength).toBe(text!.length);
    },
  );

  it('createRedactor - still redacts the shortest default secret (5 characters)', () => {
    const redactor = createRedactor();
    expect(redactor.redactString('pwd:x').value).toBe('[REDACTED]');
    expect(redactor.redactString('pwd:').value).toBe('pwd:');
  });

  it('createRedactor - a pattern without minLength scans every string, however short', () => {
    const redactor = createRedactor({ patterns: [{ category: 'pin', pattern: /\d{3}/g }] });
    expect(redactor.redactString('123').value).toBe('[REDACTED]');
    const data = { kind: 'text', delta: '999' };
    expect(redactor.redactEventData('message_streamed', data)).toEqual({ kind: 'text', delta: '[REDACTED]' });
  });

  it('createRedactor - strings shorter than every declared minLength are not scanned', () => {
    const redactor = createRedactor({
      replacePatterns: [{ category: 'code', pattern: /abc/g, minLength: 6 }],
    });
    expect(redactor.redactString('abc').value).toBe('abc');
    expect(redactor.redactString('xxabcx').value).toBe('xx[REDACTED]x');
  });

  it('redactEventData - returns the same object when nothing matched, a copy when something did', () => {
    const redactor = createRedactor();
    const clean = { kind: 'text', delta: 'hello there' };
    expect(redactor.redactEventData('message_streamed', clean)).toBe(clean);
    const secret = { kind: 'text', delta: `key sk-ant-${'a'.repeat(30)}` };
    const redacted = redactor.redactEventData('message_streamed', secret);
    expect(redacted).not.toBe(secret);
    expect(redacted.delta).toBe('key [REDACTED]');
    expect(secret.delta).toContain('sk-ant-');
  });

  it('redactEventMetadata - scans metadata only when scanMetadata is on', () => {
    const metadata = { note: 'password=hunter2' };
    expect(createRedactor().redactEventMetadata(metadata)).toBe(metadata);
    expect(createRedactor({ scanMetadata: true }).redactEventMetadata(metadata)).toEqual({
      note: '[REDACTED]',
    });
  });
});

describe('SessionManager with the in-memory store (owned appends)', () => {
  it('runOnce - stores every event once, in order, and hands out the stored objects', async () => {
    const store = createInMemoryStore();
    const seen: StoredEvent[] = [];
    const manager = createSessionManager({
      store,
      provider: scriptedProvider((emit) => {
        for (let index = 0; index < 1_200; index++) emit(streamed(`d${index} `));
      }),
    });
    const result = await manager.runOnce('go', { onEvent: (event) => seen.push(event) });
    const log = await store.getEvents(result.sessionId);
    expect(log.map((event) => event.sequence)).toEqual(log.map((_, index) => index + 1));
    expect(log.at(-1)?.type).toBe('session_completed');
    const runEvents = log.filter((event) => event.runId === result.runId);
    expect(result.events).toEqual(runEvents);
    expect(result.events[3]).toBe(runEvents[3]);
    expect(seen.map((event) => event.sequence)).toEqual(result.events.map((event) => event.sequence));
    expect(result.events.filter((event) => event.type === 'message_streamed')).toHaveLength(1_200);
    expect(runEvents.filter((event) => event.type === 'run_started')).toHaveLength(1);
    expect(runEvents.filter((event) => event.type === 'run_completed')).toHaveLength(1);
  });

  it('executeRun - an adapter id repeated in the run is stored once and returns the stored event', async () => {
    const store = createInMemoryStore();
    const id = newEventId();
    const manager = createSessionManager({
      store,
      provider: scriptedProvider((emit) => {
        emit(streamed('first', { id }));
        emit(streamed('again', { id }));
      }),
    });
    const result = await manager.runOnce('go');
    const copies = (await store.getEvents(result.sessionId)).filter((event) => event.id === id);
    expect(copies).toHaveLength(1);
    expect(copies[0]!.data).toEqual({ kind: 'text', delta: 'first' });
    const returned = result.events.filter((event) => event.id === id);
    expect(returned).toHaveLength(2);
    expect(returned[1]).toBe(returned[0]);
  });

  it('executeRun - an adapter id stored by an earlier run returns that event with its sequence', async () => {
    const store = createInMemoryStore();
    const first = await createSessionManager({
      store,
      provider: scriptedProvider((emit) => emit(streamed('one'))),
    }).runOnce('go', {});
    const earlier = first.events.find((event) => event.type === 'message_streamed')!;
    const manager = createSessionManager({
      store,
      provider: scriptedProvider((emit) => emit(streamed('replayed', { id: earlier.id }))),
    });
    await store.saveSession({ ...(await store.getSession(first.sessionId))!, status: 'active' });
    const second = await manager.runOnce('again', { sessionId: first.sessionId });
    const replayed = second.events.find((event) => event.id === earlier.id)!;
    expect(replayed.sequence).toBe(earlier.sequence);
    expect(replayed.runId).toBe(first.runId);
    const log = await store.getEvents(first.sessionId);
    expect(log.filter((event) => event.id === earlier.id)).toHaveLength(1);
  });

  it('executeRun - an adapter id stored in another session fails the run and stores nothing of its batch', async () => {
    const store = createInMemoryStore();
    const other = { ...createSession({ agentId: 'other' }), status: 'active' as const };
    await store.saveSession(other);
    const foreign = await store.appendEvent(
      createEvent({
        type: 'message_sent',
        sessionId: other.id,
        data: { role: 'user', content: 'x' },
      }) as NewEvent,
    );
    const manager = createSessionManager({
      store,
      provider: scriptedProvider((emit) => {
        emit(streamed('before'));
        emit(streamed('clash', { id: foreign.id }));
      }),
      config: { eventWriteLingerMs: 0 },
    });
    const error = await rejectionOf(manager.runOnce('go'));
    expectCode(error, 'validation_error');
    const sessions = await store.listSessions();
    const mine = sessions.find((session) => session.id !== other.id)!;
    const log = await store.getEvents(mine.id);
    expect(log.some((event) => event.type === 'message_streamed')).toBe(false);
    expect((await store.getEvents(other.id)).map((event) => event.id)).toEqual([foreign.id]);
  });

  it('executeRun - an adapter timestamp that is not ISO-8601 is a validation_error', async () => {
    const store = createInMemoryStore();
    const manager = createSessionManager({
      store,
      provider: scriptedProvider((emit) => emit(streamed('x', { timestamp: 'yesterday' }))),
    });
    expectCode(await rejectionOf(manager.runOnce('go')), 'validation_error');
  });

  it('executeRun - adapter metadata is stored with each event; metadata that is not an object fails the run', async () => {
    const store = createInMemoryStore();
    const routed = await createSessionManager({
      store,
      provider: scriptedProvider((emit) => {
        for (let index = 0; index < 3; index++) emit(streamed(`r${index}`, { metadata: { attempt: 1 } }));
      }),
    }).runOnce('go');
    const deltas = routed.events.filter((event) => event.type === 'message_streamed');
    expect(deltas.map((event) => event.metadata)).toEqual([{ attempt: 1 }, { attempt: 1 }, { attempt: 1 }]);
    const broken = createSessionManager({
      store,
      provider: scriptedProvider((emit) =>
        emit(streamed('x', { metadata: ['not', 'an', 'object'] as never })),
      ),
    });
    expectCode(await rejectionOf(broken.runOnce('go')), 'validation_error');
  });

  it('executeRun - an extension that writes from onEvent, with beforeFinish, settles with its events stored', async () => {
    const store = createInMemoryStore();
    let finished = 0;
    const extension: RunExtension = {
      name: 'echo',
      onEvent(event, context) {
        if (event.type === 'message_streamed') {
          context.emit({ type: 'policy_violation', data: { policy: 'echo', kind: 'seen' } });
        }
      },
      beforeFinish() {
        finished++;
        return undefined;
      },
    };
    const manager = createSessionManager({
      store,
      provider: scriptedProvider((emit) => {
        emit(streamed('a'));
        emit(streamed('b'));
      }),
    });
    const result = await manager.runOnce('go', { extensions: [extension] });
    expect(finished).toBe(1);
    const types = result.events.map((event) => event.type);
    expect(types.filter((type) => type === 'policy_violation')).toHaveLength(2);
    expect(types.at(-1)).toBe('run_completed');
  });

  it('appendEvents - an id the manager stored is found by a later public append', async () => {
    const store = createInMemoryStore();
    const result = await createSessionManager({
      store,
      provider: scriptedProvider((emit) => emit(streamed('one'))),
    }).runOnce('go');
    const stored = result.events.find((event) => event.type === 'message_streamed')!;
    const again = await store.appendEvents([
      {
        ...createEvent({
          type: 'message_streamed',
          sessionId: result.sessionId,
          data: { kind: 'text', delta: 'z' },
        }),
        id: stored.id,
      } as NewEvent,
    ]);
    expect(again[0]).toBe(stored);
    const single = await store.appendEvent({ ...stored, sequence: undefined } as unknown as NewEvent);
    expect(single).toBe(stored);
  });

  it('deleteSession - forgets the ids the manager stored in it', async () => {
    const store = createInMemoryStore();
    const result = await createSessionManager({
      store,
      provider: scriptedProvider((emit) => emit(streamed('one'))),
    }).runOnce('go');
    const stored = result.events.find((event) => event.type === 'message_streamed')!;
    await store.deleteSession(result.sessionId);
    const next = { ...createSession({ agentId: 'next' }), status: 'active' as const };
    await store.saveSession(next);
    const reused = await store.appendEvent({
      ...createEvent({ type: 'message_sent', sessionId: next.id, data: { role: 'user', content: 'x' } }),
      id: stored.id,
    } as NewEvent);
    expect(reused.sessionId).toBe(next.id);
    expect(reused.sequence).toBe(1);
  });
});

describe('EventWriter with a synchronous append', () => {
  function writer(options: { failAt?: number } = {}) {
    const batches: NewEvent[][] = [];
    const stored: StoredEvent[] = [];
    const failures: AsmError[] = [];
    let sequence = 0;
    const append = (events: NewEvent[]): StoredEvent[] => {
      if (options.failAt === batches.length) {
        batches.push(events);
        throw new AsmError('storage_write_failed', 'disk full');
      }
      batches.push(events);
      return events.map((event) => toStoredEvent(event, ++sequence));
    };
    const instance = new EventWriter(
      {} as SessionStore,
      3,
      (events) => stored.push(...events),
      (error) => failures.push(error),
      0,
      append,
    );
    return { instance, batches, stored, failures };
  }
  const event = (index: number): NewEvent =>
    createEvent({
      type: 'message_streamed',
      sessionId: 'ses_sync',
      data: { kind: 'text', delta: `d${index}` },
    }) as NewEvent;

  it('flush - stores everything in order, in batches of batchSize', async () => {
    const { instance, batches, stored } = writer();
    for (let index = 0; index < 8; index++) instance.enqueue(event(index));
    await instance.flush();
    expect(batches.map((batch) => batch.length)).toEqual([3, 3, 2]);
    expect(stored.map((entry) => entry.data)).toEqual(
      Array.from({ length: 8 }, (_, index) => ({ kind: 'text', delta: `d${index}` })),
    );
    expect(stored.map((entry) => entry.sequence)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('enqueue - writes at the end of the tick without a flush', async () => {
    const { instance, stored } = writer();
    instance.enqueue(event(0));
    instance.enqueue(event(1));
    expect(stored).toHaveLength(0);
    await Promise.resolve();
    await Promise.resolve();
    expect(stored).toHaveLength(2);
  });

  it('flush - rejects with the append error, reports it once and drops later events', async () => {
    const { instance, stored, failures } = writer({ failAt: 1 });
    for (let index = 0; index < 7; index++) instance.enqueue(event(index));
    const error = await rejectionOf(instance.flush());
    expectCode(error, 'storage_write_failed');
    expect(stored).toHaveLength(3);
    expect(failures).toHaveLength(1);
    instance.enqueue(event(99));
    await expect(instance.flush()).rejects.toBe(error);
    expect(stored).toHaveLength(3);
  });
});

describe('in-memory store copies of sessions and runs', () => {
  it('saveSession - keeps Dates, shared references and __proto__ keys as structuredClone does', async () => {
    const store = createInMemoryStore();
    const shared = { note: 'same object' };
    const metadata = JSON.parse('{"__proto__": {"polluted": true}}') as Record<string, unknown>;
    metadata.when = new Date('2026-01-02T03:04:05.000Z');
    metadata.first = shared;
    metadata.second = shared;
    const session = createSession({ agentId: 'copies', metadata });
    await store.saveSession(session);
    const read = (await store.getSession(session.id))!;
    expect(read.metadata.when).toBeInstanceOf(Date);
    expect((read.metadata.when as Date).toISOString()).toBe('2026-01-02T03:04:05.000Z');
    expect(read.metadata.first).toBe(read.metadata.second);
    expect(read.metadata.first).not.toBe(shared);
    expect(Object.hasOwn(read.metadata, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(read.metadata)).toBe(Object.prototype);
  });

  it('saveSession - a function in the data is a validation_error', async () => {
    const store = createInMemoryStore();
    const session = createSession({ agentId: 'copies', metadata: { callback: () => 1 } });
    expectCode(await rejectionOf(store.saveSession(session)), 'validation_error');
  });

  it('getSession - hands out a deep copy that does not share nested objects', async () => {
    const store = createInMemoryStore();
    const session = createSession({ agentId: 'copies', metadata: { nested: { list: [1, { deep: true }] } } });
    await store.saveSession(session);
    const first = (await store.getSession(session.id))!;
    (first.metadata.nested as { list: unknown[] }).list.push('changed');
    const second = (await store.getSession(session.id))!;
    expect(second.metadata.nested).toEqual({ list: [1, { deep: true }] });
  });
});
