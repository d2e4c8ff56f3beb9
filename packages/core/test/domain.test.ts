import { describe, expect, it } from 'vitest';
import {
  AsmError,
  addTokenUsage,
  canTransitionRun,
  canTransitionSession,
  createEvent,
  createRun,
  createSession,
  type ErrorCode,
  EVENT_SCHEMA_VERSION,
  EVENT_TYPES,
  EVENT_TYPES_BY_GROUP,
  emptyTokenUsage,
  eventFromJSON,
  isEventType,
  isIsoTimestamp,
  isPermissionMode,
  isTerminalRunEventType,
  isTerminalRunStatus,
  isTerminalSessionStatus,
  isToolAllowed,
  matchesToolPattern,
  type NewEvent,
  newEventId,
  newRunId,
  newSessionId,
  normalizePermissionMode,
  normalizeTokenUsage,
  nowIso,
  PERMISSION_MODES,
  RUN_STATUSES,
  type Run,
  type RunStatus,
  runFromJSON,
  SESSION_STATUSES,
  type Session,
  type SessionStatus,
  sessionFromJSON,
  TERMINAL_RUN_EVENT_TYPES,
  toStoredEvent,
  transitionRun,
  transitionSession,
  validateNewEvent,
} from '../src/index.js';

function codeOf(fn: () => unknown): ErrorCode | 'no error' | 'not an AsmError' {
  try {
    fn();
  } catch (error) {
    return AsmError.isInstance(error) ? error.code : 'not an AsmError';
  }
  return 'no error';
}

function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    return (error as Error).message;
  }
  return 'no error';
}

function sessionWithStatus(status: SessionStatus): Session {
  return { ...createSession({ agentId: 'agent' }), status };
}

function runWithStatus(status: RunStatus): Run {
  return { ...createRun({ sessionId: 'ses_1' }), status };
}

const ID_FORMAT = /^(ses|run|evt)_[0-9a-f]{32}$/;

describe('ids', () => {
  it.each([
    ['ses', newSessionId],
    ['run', newRunId],
    ['evt', newEventId],
  ] as const)('%s ids have the prefix and 32 lowercase hex characters', (prefix, make) => {
    const id = make();
    expect(id).toMatch(ID_FORMAT);
    expect(id.startsWith(`${prefix}_`)).toBe(true);
  });

  it('10,000 ids of each kind are unique and well formed', () => {
    for (const make of [newSessionId, newRunId, newEventId]) {
      const ids = new Set<string>();
      for (let i = 0; i < 10_000; i++) {
        const id = make();
        expect(ID_FORMAT.test(id)).toBe(true);
        ids.add(id);
      }
      expect(ids.size).toBe(10_000);
    }
  });

  it('ids are not sequential: the random parts differ in many positions', () => {
    const a = newEventId().slice(4);
    const b = newEventId().slice(4);
    let differing = 0;
    for (let i = 0; i < 32; i++) if (a[i] !== b[i]) differing++;
    expect(differing).toBeGreaterThan(8);
  });
});

describe('timestamps', () => {
  it('nowIso is a current ISO-8601 UTC timestamp', () => {
    const before = Date.now();
    const now = nowIso();
    const after = Date.now();
    expect(now).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(Date.parse(now)).toBeGreaterThanOrEqual(before);
    expect(Date.parse(now)).toBeLessThanOrEqual(after);
    expect(isIsoTimestamp(now)).toBe(true);
  });

  it.each([
    '2026-11-25T04:31:21.123Z',
    '2026-11-25T04:31:21Z',
    '2026-11-25T04:31:21.123456Z',
    '2026-11-25T06:31:21+02:00',
    '2026-11-24T23:01:21.5-05:30',
  ])('accepts %s', (value) => {
    expect(isIsoTimestamp(value)).toBe(true);
  });

  it.each([
    '2026-11-25T04:31:21',
    '2026-11-25T04:31:21.123',
    '2026-11-25',
    '2026-13-01T00:00:00Z',
    '2026-11-25 04:31:21Z',
    'yesterday',
    'garbage',
    '',
    'Wed, 25 Nov 2026 04:31:21 GMT',
  ])('rejects %s', (value) => {
    expect(isIsoTimestamp(value)).toBe(false);
  });

  it('rejects non-strings', () => {
    expect(isIsoTimestamp(Date.now())).toBe(false);
    expect(isIsoTimestamp(new Date())).toBe(false);
    expect(isIsoTimestamp(null)).toBe(false);
    expect(isIsoTimestamp(undefined)).toBe(false);
  });
});

describe('createSession', () => {
  it('creates a pending session with defaults', () => {
    const session = createSession({ agentId: 'agent-1' });
    expect(session.id).toMatch(/^ses_[0-9a-f]{32}$/);
    expect(session.agentId).toBe('agent-1');
    expect(session.status).toBe('pending');
    expect(session.metadata).toEqual({});
    expect(session.context).toEqual({});
    expect(session.tags).toEqual([]);
    expect(isIsoTimestamp(session.createdAt)).toBe(true);
    expect(session.updatedAt).toBe(session.createdAt);
    expect('parentSessionId' in session).toBe(false);
    expect('deletedAt' in session).toBe(false);
  });

  it('keeps the given id, parent, metadata, context and tags (copied, not shared)', () => {
    const metadata = { team: 'a' };
    const tags = ['pinned'];
    const session = createSession({
      id: 'my-session',
      agentId: 'agent',
      parentSessionId: 'ses_parent',
      metadata,
      context: { systemPrompt: 'be brief' },
      tags,
    });
    expect(session.id).toBe('my-session');
    expect(session.parentSessionId).toBe('ses_parent');
    expect(session.metadata).toEqual({ team: 'a' });
    expect(session.context).toEqual({ systemPrompt: 'be brief' });
    expect(session.tags).toEqual(['pinned']);
    metadata.team = 'b';
    tags.push('other');
    expect(session.metadata).toEqual({ team: 'a' });
    expect(session.tags).toEqual(['pinned']);
  });

  it('a missing agentId is validation_error "agentId is required"', () => {
    const make = () => createSession({} as never);
    expect(codeOf(make)).toBe('validation_error');
    expect(messageOf(make)).toBe('agentId is required');
    expect(codeOf(() => createSession(undefined as never))).toBe('validation_error');
    expect(codeOf(() => createSession({ agentId: 42 } as never))).toBe('validation_error');
  });

  it('an empty agentId is validation_error "agentId cannot be empty"', () => {
    expect(codeOf(() => createSession({ agentId: '' }))).toBe('validation_error');
    expect(messageOf(() => createSession({ agentId: '' }))).toBe('agentId cannot be empty');
    expect(messageOf(() => createSession({ agentId: '   ' }))).toBe('agentId cannot be empty');
  });

  it('bad tags are validation_error', () => {
    expect(codeOf(() => createSession({ agentId: 'a', tags: 'pinned' as never }))).toBe('validation_error');
    expect(codeOf(() => createSession({ agentId: 'a', tags: [1] as never }))).toBe('validation_error');
    expect(codeOf(() => createSession({ agentId: 'a', tags: ['ok', null] as never }))).toBe(
      'validation_error',
    );
  });

  it('an empty id is validation_error', () => {
    expect(codeOf(() => createSession({ agentId: 'a', id: '' }))).toBe('validation_error');
  });
});

describe('session state machine', () => {
  const ALLOWED: ReadonlyArray<readonly [SessionStatus, SessionStatus]> = [
    ['pending', 'active'],
    ['pending', 'failed'],
    ['pending', 'cancelled'],
    ['active', 'paused'],
    ['active', 'completed'],
    ['active', 'failed'],
    ['active', 'cancelled'],
    ['paused', 'active'],
    ['paused', 'completed'],
    ['paused', 'failed'],
    ['paused', 'cancelled'],
  ];

  /** Every pair of distinct statuses not in ALLOWED (completed → active needs `reopen`). */
  const DISALLOWED: ReadonlyArray<readonly [SessionStatus, SessionStatus]> = [
    ['pending', 'paused'],
    ['pending', 'completed'],
    ['active', 'pending'],
    ['paused', 'pending'],
    ['completed', 'pending'],
    ['completed', 'active'],
    ['completed', 'paused'],
    ['completed', 'failed'],
    ['completed', 'cancelled'],
    ['failed', 'pending'],
    ['failed', 'active'],
    ['failed', 'paused'],
    ['failed', 'completed'],
    ['failed', 'cancelled'],
    ['cancelled', 'pending'],
    ['cancelled', 'active'],
    ['cancelled', 'paused'],
    ['cancelled', 'completed'],
    ['cancelled', 'failed'],
  ];

  it('the tables cover every pair of distinct statuses exactly once', () => {
    const pairs = [...ALLOWED, ...DISALLOWED].map(([from, to]) => `${from}>${to}`);
    expect(new Set(pairs).size).toBe(pairs.length);
    expect(pairs).toHaveLength(SESSION_STATUSES.length * (SESSION_STATUSES.length - 1));
  });

  it.each(ALLOWED)('%s -> %s is allowed', (from, to) => {
    const session = sessionWithStatus(from);
    const next = transitionSession(session, to);
    expect(next.status).toBe(to);
    expect(next).not.toBe(session);
    expect(session.status).toBe(from);
    expect(Date.parse(next.updatedAt)).toBeGreaterThanOrEqual(Date.parse(session.updatedAt));
    expect(canTransitionSession(from, to)).toBe(true);
  });

  it.each(DISALLOWED)('%s -> %s is invalid_transition', (from, to) => {
    const session = sessionWithStatus(from);
    expect(codeOf(() => transitionSession(session, to))).toBe('invalid_transition');
    expect(canTransitionSession(from, to)).toBe(false);
    expect(session.status).toBe(from);
  });

  it('completed -> active is allowed only with reopen', () => {
    const completed = sessionWithStatus('completed');
    expect(codeOf(() => transitionSession(completed, 'active'))).toBe('invalid_transition');
    expect(codeOf(() => transitionSession(completed, 'active', { reopen: false }))).toBe(
      'invalid_transition',
    );
    expect(transitionSession(completed, 'active', { reopen: true }).status).toBe('active');
    expect(canTransitionSession('completed', 'active', { reopen: true })).toBe(true);
  });

  it('reopen does not revive failed or cancelled sessions, nor open other moves', () => {
    for (const from of ['failed', 'cancelled'] as const) {
      expect(codeOf(() => transitionSession(sessionWithStatus(from), 'active', { reopen: true }))).toBe(
        'invalid_transition',
      );
    }
    expect(codeOf(() => transitionSession(sessionWithStatus('completed'), 'paused', { reopen: true }))).toBe(
      'invalid_transition',
    );
    expect(codeOf(() => transitionSession(sessionWithStatus('pending'), 'completed', { reopen: true }))).toBe(
      'invalid_transition',
    );
  });

  it.each(SESSION_STATUSES)('%s -> same status is a no-op returning the same object', (status) => {
    const session = sessionWithStatus(status);
    expect(transitionSession(session, status)).toBe(session);
  });

  it('the error names the session and both statuses', () => {
    const session = sessionWithStatus('failed');
    try {
      transitionSession(session, 'active');
      expect.unreachable();
    } catch (error) {
      expect((error as AsmError).details).toEqual({ sessionId: session.id, from: 'failed', to: 'active' });
    }
  });

  it('an unknown status is invalid_status', () => {
    expect(codeOf(() => transitionSession(sessionWithStatus('active'), 'running' as never))).toBe(
      'invalid_status',
    );
    expect(codeOf(() => transitionSession(sessionWithStatus('active'), undefined as never))).toBe(
      'invalid_status',
    );
  });

  it('terminal statuses', () => {
    expect(SESSION_STATUSES.filter(isTerminalSessionStatus)).toEqual(['completed', 'failed', 'cancelled']);
  });
});

describe('createRun', () => {
  it('creates a pending run with defaults', () => {
    const run = createRun({ sessionId: 'ses_1' });
    expect(run.id).toMatch(/^run_[0-9a-f]{32}$/);
    expect(run.sessionId).toBe('ses_1');
    expect(run.status).toBe('pending');
    expect(run.input).toEqual({});
    expect(run.metadata).toEqual({});
    expect(run.turnCount).toBe(0);
    expect(run.tokenUsage).toEqual(emptyTokenUsage());
    expect(run.providerMetadata).toEqual({});
    expect(isIsoTimestamp(run.createdAt)).toBe(true);
    expect(run.startedAt).toBeUndefined();
    expect(run.endedAt).toBeUndefined();
  });

  it('keeps id, input and metadata', () => {
    const run = createRun({ id: 'run_mine', sessionId: 'ses_1', input: 'hello', metadata: { a: 1 } });
    expect(run).toMatchObject({ id: 'run_mine', input: 'hello', metadata: { a: 1 } });
  });

  it('a missing or empty sessionId is validation_error', () => {
    expect(codeOf(() => createRun({} as never))).toBe('validation_error');
    expect(codeOf(() => createRun({ sessionId: '' }))).toBe('validation_error');
    expect(codeOf(() => createRun(undefined as never))).toBe('validation_error');
  });
});

describe('run state machine', () => {
  const ALLOWED: ReadonlyArray<readonly [RunStatus, RunStatus]> = [
    ['pending', 'running'],
    ['pending', 'cancelled'],
    ['pending', 'failed'],
    ['running', 'completed'],
    ['running', 'failed'],
    ['running', 'cancelled'],
    ['running', 'timeout'],
  ];
  const allowed = new Set(ALLOWED.map(([from, to]) => `${from}>${to}`));
  const DISALLOWED = RUN_STATUSES.flatMap((from) =>
    RUN_STATUSES.filter((to) => !allowed.has(`${from}>${to}`)).map((to) => [from, to] as const),
  );

  it('29 of the 36 pairs are disallowed', () => {
    expect(DISALLOWED).toHaveLength(29);
  });

  it.each(ALLOWED)('%s -> %s is allowed', (from, to) => {
    const run = runWithStatus(from);
    const next = transitionRun(run, to);
    expect(next.status).toBe(to);
    expect(run.status).toBe(from);
    expect(canTransitionRun(from, to)).toBe(true);
  });

  it.each(DISALLOWED)('%s -> %s is invalid_transition', (from, to) => {
    expect(codeOf(() => transitionRun(runWithStatus(from), to))).toBe('invalid_transition');
    expect(canTransitionRun(from, to)).toBe(false);
  });

  it('running sets startedAt; a terminal status sets endedAt', () => {
    const pending = createRun({ sessionId: 'ses_1' });
    const running = transitionRun(pending, 'running');
    expect(isIsoTimestamp(running.startedAt)).toBe(true);
    expect(running.endedAt).toBeUndefined();
    for (const terminal of ['completed', 'failed', 'cancelled', 'timeout'] as const) {
      const ended = transitionRun(running, terminal);
      expect(ended.startedAt).toBe(running.startedAt);
      expect(isIsoTimestamp(ended.endedAt)).toBe(true);
    }
    const cancelledBeforeStart = transitionRun(pending, 'cancelled');
    expect(cancelledBeforeStart.startedAt).toBeUndefined();
    expect(isIsoTimestamp(cancelledBeforeStart.endedAt)).toBe(true);
  });

  it('an unknown status is invalid_status', () => {
    expect(codeOf(() => transitionRun(runWithStatus('pending'), 'active' as never))).toBe('invalid_status');
  });

  it('terminal statuses', () => {
    expect(RUN_STATUSES.filter(isTerminalRunStatus)).toEqual(['completed', 'failed', 'cancelled', 'timeout']);
  });
});

describe('sessionFromJSON / runFromJSON', () => {
  it('a session round-trips through JSON.stringify', () => {
    const session = transitionSession(
      createSession({
        agentId: 'agent',
        parentSessionId: 'ses_p',
        metadata: { providerSessions: { claude: { providerSessionId: 'abc' } } },
        context: { systemPrompt: 'hi' },
        tags: ['x'],
      }),
      'active',
    );
    expect(sessionFromJSON(JSON.parse(JSON.stringify(session)))).toEqual(session);
  });

  it('fills missing metadata, context and tags', () => {
    const { metadata: _m, context: _c, tags: _t, ...bare } = createSession({ agentId: 'a' });
    const parsed = sessionFromJSON(JSON.parse(JSON.stringify(bare)));
    expect(parsed.metadata).toEqual({});
    expect(parsed.context).toEqual({});
    expect(parsed.tags).toEqual([]);
  });

  it('rejects bad sessions', () => {
    const good = JSON.parse(JSON.stringify(createSession({ agentId: 'a' }))) as Record<string, unknown>;
    expect(codeOf(() => sessionFromJSON(null))).toBe('validation_error');
    expect(codeOf(() => sessionFromJSON('ses_1'))).toBe('validation_error');
    expect(codeOf(() => sessionFromJSON([good]))).toBe('validation_error');
    for (const field of ['id', 'agentId', 'createdAt', 'updatedAt']) {
      const { [field]: _omitted, ...rest } = good;
      expect(codeOf(() => sessionFromJSON(rest))).toBe('validation_error');
      expect(codeOf(() => sessionFromJSON({ ...good, [field]: '' }))).toBe('validation_error');
    }
    expect(codeOf(() => sessionFromJSON({ ...good, status: 'running' }))).toBe('invalid_status');
    expect(codeOf(() => sessionFromJSON({ ...good, status: undefined }))).toBe('invalid_status');
    expect(codeOf(() => sessionFromJSON({ ...good, createdAt: 'yesterday' }))).toBe('validation_error');
    expect(codeOf(() => sessionFromJSON({ ...good, updatedAt: '2026-01-01T00:00:00' }))).toBe(
      'validation_error',
    );
  });

  it('a run round-trips through JSON.stringify', () => {
    const running = transitionRun(
      createRun({ sessionId: 'ses_1', input: { prompt: 'hi' }, metadata: { m: 1 } }),
      'running',
    );
    const done: Run = {
      ...transitionRun(running, 'completed'),
      output: { content: 'hello', stopReason: 'end_turn' },
      tokenUsage: normalizeTokenUsage({ inputTokens: 3, outputTokens: 4 }),
      costUsd: 0.25,
      provider: 'claude',
      turnCount: 1,
    };
    expect(runFromJSON(JSON.parse(JSON.stringify(done)))).toEqual(done);
    expect(runFromJSON(JSON.parse(JSON.stringify(running)))).toEqual(running);
  });

  it('drops a costUsd that is not a finite number and fills defaults', () => {
    const run = JSON.parse(JSON.stringify(createRun({ sessionId: 'ses_1' }))) as Record<string, unknown>;
    const parsed = runFromJSON({ ...run, costUsd: 'free', tokenUsage: undefined, turnCount: 'x' });
    expect('costUsd' in parsed).toBe(false);
    expect(parsed.tokenUsage).toEqual(emptyTokenUsage());
    expect(parsed.turnCount).toBe(0);
  });

  it('rejects bad runs', () => {
    const good = JSON.parse(JSON.stringify(createRun({ sessionId: 'ses_1' }))) as Record<string, unknown>;
    expect(codeOf(() => runFromJSON(undefined))).toBe('validation_error');
    expect(codeOf(() => runFromJSON([]))).toBe('validation_error');
    for (const field of ['id', 'sessionId', 'createdAt']) {
      const { [field]: _omitted, ...rest } = good;
      expect(codeOf(() => runFromJSON(rest))).toBe('validation_error');
    }
    expect(codeOf(() => runFromJSON({ ...good, status: 'paused' }))).toBe('invalid_status');
    expect(codeOf(() => runFromJSON({ ...good, createdAt: 'not a date' }))).toBe('validation_error');
  });
});

describe('events', () => {
  it('there are 29 event types in 10 groups', () => {
    expect(EVENT_TYPES).toHaveLength(29);
    expect(new Set(EVENT_TYPES).size).toBe(29);
    expect(
      Object.fromEntries(Object.entries(EVENT_TYPES_BY_GROUP).map(([group, types]) => [group, [...types]])),
    ).toEqual({
      session: [
        'session_created',
        'session_started',
        'session_paused',
        'session_resumed',
        'session_completed',
        'session_failed',
        'session_cancelled',
      ],
      run: ['run_started', 'run_completed', 'run_failed', 'run_cancelled', 'run_timeout'],
      message: ['message_sent', 'message_received', 'message_streamed'],
      tool: ['tool_call_started', 'tool_call_completed', 'tool_call_failed'],
      error: ['error_occurred', 'error_recovered'],
      usage: ['token_usage_updated', 'turn_completed'],
      workspace: ['workspace_snapshot_taken', 'workspace_diff_computed'],
      policy: ['policy_violation'],
      approval: ['tool_approval_requested', 'tool_approval_granted', 'tool_approval_denied'],
      control: ['control_operation'],
    });
    expect([...EVENT_TYPES].sort()).toEqual(Object.values(EVENT_TYPES_BY_GROUP).flat().sort());
    for (const type of EVENT_TYPES) expect(isEventType(type)).toBe(true);
    expect(isEventType('assistant_message')).toBe(false);
    expect(isEventType('constructor')).toBe(false);
  });

  it('isTerminalRunEventType is true only for the four run endings', () => {
    expect(EVENT_TYPES.filter((type) => isTerminalRunEventType(type))).toEqual([
      'run_completed',
      'run_failed',
      'run_cancelled',
      'run_timeout',
    ]);
    expect([...TERMINAL_RUN_EVENT_TYPES]).toEqual([
      'run_completed',
      'run_failed',
      'run_cancelled',
      'run_timeout',
    ]);
    expect(isTerminalRunEventType('session_completed')).toBe(false);
    expect(isTerminalRunEventType('run_started')).toBe(false);
  });

  describe('createEvent', () => {
    it('fills id, timestamp, data, metadata and schemaVersion 1', () => {
      const event = createEvent({ type: 'run_started', sessionId: 'ses_1' });
      expect(event.id).toMatch(/^evt_[0-9a-f]{32}$/);
      expect(event.type).toBe('run_started');
      expect(event.sessionId).toBe('ses_1');
      expect(isIsoTimestamp(event.timestamp)).toBe(true);
      expect(event.data).toEqual({});
      expect(event.metadata).toEqual({});
      expect(event.schemaVersion).toBe(1);
      expect(EVENT_SCHEMA_VERSION).toBe(1);
      for (const key of ['runId', 'provider', 'correlationId', 'sequence']) expect(key in event).toBe(false);
      expect(() => validateNewEvent(event)).not.toThrow();
    });

    it('keeps the given fields', () => {
      const event = createEvent({
        type: 'message_streamed',
        sessionId: 'ses_1',
        runId: 'run_1',
        id: 'evt_mine',
        timestamp: '2026-01-02T03:04:05.000Z',
        data: { kind: 'text', delta: 'hi' },
        metadata: { m: 1 },
        provider: 'claude',
        correlationId: 'corr',
      });
      expect(event).toEqual({
        id: 'evt_mine',
        type: 'message_streamed',
        timestamp: '2026-01-02T03:04:05.000Z',
        sessionId: 'ses_1',
        runId: 'run_1',
        data: { kind: 'text', delta: 'hi' },
        metadata: { m: 1 },
        schemaVersion: 1,
        provider: 'claude',
        correlationId: 'corr',
      });
    });

    it('an unknown type is invalid_event_type', () => {
      expect(codeOf(() => createEvent({ type: 'assistant_message' as never, sessionId: 'ses_1' }))).toBe(
        'invalid_event_type',
      );
    });

    it('a missing or empty sessionId is validation_error', () => {
      expect(codeOf(() => createEvent({ type: 'run_started' } as never))).toBe('validation_error');
      expect(codeOf(() => createEvent({ type: 'run_started', sessionId: '' }))).toBe('validation_error');
    });
  });

  describe('validateNewEvent / eventFromJSON', () => {
    const base = (): Record<string, unknown> =>
      JSON.parse(
        JSON.stringify(
          createEvent({ type: 'message_sent', sessionId: 'ses_1', data: { role: 'user', content: 'x' } }),
        ),
      ) as Record<string, unknown>;
    const stored = (): Record<string, unknown> => ({ ...base(), sequence: 1 });

    it.each([
      ['missing', undefined],
      ['null', null],
      ['0', 0],
      ['-1', -1],
      ['1.5', 1.5],
      ['a string', '1'],
    ])('schemaVersion %s is validation_error', (_label, schemaVersion) => {
      const event = { ...base(), schemaVersion };
      if (schemaVersion === undefined) delete event.schemaVersion;
      expect(codeOf(() => validateNewEvent(event))).toBe('validation_error');
      expect(codeOf(() => eventFromJSON({ ...event, sequence: 1 }))).toBe('validation_error');
    });

    it('accepts a later schemaVersion', () => {
      expect(eventFromJSON({ ...stored(), schemaVersion: 2 }).schemaVersion).toBe(2);
    });

    it.each([
      ['missing', undefined],
      ['0', 0],
      ['-3', -3],
      ['2.5', 2.5],
      ['a string', '4'],
    ])('sequence %s is validation_error', (_label, sequence) => {
      const event = { ...stored(), sequence };
      if (sequence === undefined) delete event.sequence;
      expect(codeOf(() => eventFromJSON(event))).toBe('validation_error');
    });

    it('rejects other bad fields', () => {
      expect(codeOf(() => validateNewEvent(null))).toBe('validation_error');
      expect(codeOf(() => validateNewEvent({ ...base(), id: '' }))).toBe('validation_error');
      expect(codeOf(() => validateNewEvent({ ...base(), sessionId: undefined }))).toBe('validation_error');
      expect(codeOf(() => validateNewEvent({ ...base(), type: 'nope' }))).toBe('invalid_event_type');
      expect(codeOf(() => validateNewEvent({ ...base(), timestamp: 'now' }))).toBe('validation_error');
      expect(codeOf(() => validateNewEvent({ ...base(), data: [] }))).toBe('validation_error');
      expect(codeOf(() => validateNewEvent({ ...base(), data: null }))).toBe('validation_error');
      expect(codeOf(() => validateNewEvent({ ...base(), runId: '' }))).toBe('validation_error');
      expect(codeOf(() => eventFromJSON({ ...stored(), type: 'run_start' }))).toBe('invalid_event_type');
    });

    it('a stored event round-trips through JSON.stringify', () => {
      const event = toStoredEvent(
        createEvent({
          type: 'tool_call_completed',
          sessionId: 'ses_1',
          runId: 'run_1',
          provider: 'claude',
          data: { toolCallId: 'toolu_1', toolName: 'read', toolOutput: { lines: 3 } },
          metadata: { model: 'm' },
        }),
        7,
      );
      expect(eventFromJSON(JSON.parse(JSON.stringify(event)))).toEqual(event);
    });

    it('fills missing metadata', () => {
      const { metadata: _m, ...rest } = stored();
      expect(eventFromJSON(rest).metadata).toEqual({});
    });
  });

  describe('toStoredEvent', () => {
    it('adds the sequence without changing the input', () => {
      const event: NewEvent = createEvent({
        type: 'message_received',
        sessionId: 'ses_1',
        data: { role: 'assistant', content: 'hi' },
      });
      const snapshot = structuredClone(event);
      const stored = toStoredEvent(event, 42);
      expect(stored.sequence).toBe(42);
      expect(stored).not.toBe(event);
      expect(event).toEqual(snapshot);
      expect('sequence' in event).toBe(false);
      const { sequence: _s, ...envelope } = stored;
      expect(envelope).toEqual(event);
    });

    it('omits undefined optional fields', () => {
      const event = { ...createEvent({ type: 'run_started', sessionId: 'ses_1' }) } as NewEvent;
      Object.assign(event, { runId: undefined, provider: undefined, correlationId: undefined });
      const stored = toStoredEvent(event, 1);
      for (const key of ['runId', 'provider', 'correlationId']) expect(key in stored).toBe(false);
      expect(Object.keys(stored).sort()).toEqual(
        ['id', 'type', 'timestamp', 'sessionId', 'data', 'metadata', 'schemaVersion', 'sequence'].sort(),
      );
    });

    it('keeps optional fields that are set', () => {
      const stored = toStoredEvent(
        createEvent({
          type: 'run_started',
          sessionId: 'ses_1',
          runId: 'run_1',
          provider: 'p',
          correlationId: 'c',
        }),
        2,
      );
      expect(stored).toMatchObject({ runId: 'run_1', provider: 'p', correlationId: 'c', sequence: 2 });
    });

    it('gives a missing metadata an empty object', () => {
      const event = createEvent({ type: 'run_started', sessionId: 'ses_1' }) as NewEvent;
      const bare = { ...event, metadata: undefined } as unknown as NewEvent;
      expect(toStoredEvent(bare, 1).metadata).toEqual({});
    });
  });
});

describe('token usage', () => {
  it('emptyTokenUsage is all zeros', () => {
    expect(emptyTokenUsage()).toEqual({
      inputTokens: 0,
      outputTokens: 0,
      cacheReadTokens: 0,
      cacheWriteTokens: 0,
      totalTokens: 0,
    });
  });

  it('normalize computes the total', () => {
    expect(
      normalizeTokenUsage({ inputTokens: 10, outputTokens: 5, cacheReadTokens: 100, cacheWriteTokens: 20 }),
    ).toEqual({
      inputTokens: 10,
      outputTokens: 5,
      cacheReadTokens: 100,
      cacheWriteTokens: 20,
      totalTokens: 135,
    });
  });

  it('normalize turns negatives, non-numbers, NaN and Infinity into 0 and truncates fractions', () => {
    expect(
      normalizeTokenUsage({
        inputTokens: -5,
        outputTokens: '7',
        cacheReadTokens: Number.NaN,
        cacheWriteTokens: Number.POSITIVE_INFINITY,
        totalTokens: null,
      } as never),
    ).toEqual(emptyTokenUsage());
    expect(normalizeTokenUsage({ inputTokens: 3.9 }).inputTokens).toBe(3);
    expect(normalizeTokenUsage(undefined)).toEqual(emptyTokenUsage());
  });

  it('normalize keeps a reported total larger than the sum', () => {
    expect(normalizeTokenUsage({ inputTokens: 1, outputTokens: 1, totalTokens: 50 }).totalTokens).toBe(50);
    expect(normalizeTokenUsage({ inputTokens: 10, outputTokens: 10, totalTokens: 3 }).totalTokens).toBe(20);
  });

  it('normalize caps cacheWrite1hTokens at cacheWriteTokens and omits it when absent', () => {
    expect(normalizeTokenUsage({ cacheWriteTokens: 10, cacheWrite1hTokens: 25 }).cacheWrite1hTokens).toBe(10);
    expect(normalizeTokenUsage({ cacheWriteTokens: 10, cacheWrite1hTokens: 4 }).cacheWrite1hTokens).toBe(4);
    expect('cacheWrite1hTokens' in normalizeTokenUsage({ cacheWriteTokens: 10 })).toBe(false);
    // Without cache writes there is nothing for one-hour writes to be part of.
    expect(normalizeTokenUsage({ cacheWrite1hTokens: 5 }).cacheWrite1hTokens ?? 0).toBe(0);
  });

  it('add sums count by count, normalizing the right side', () => {
    const left = normalizeTokenUsage({
      inputTokens: 100,
      outputTokens: 50,
      cacheWriteTokens: 10,
      cacheWrite1hTokens: 4,
    });
    const sum = addTokenUsage(left, {
      inputTokens: 20,
      outputTokens: -30,
      cacheReadTokens: 7,
      cacheWriteTokens: 5,
      cacheWrite1hTokens: 2,
    });
    expect(sum).toEqual({
      inputTokens: 120,
      outputTokens: 50,
      cacheReadTokens: 7,
      cacheWriteTokens: 15,
      cacheWrite1hTokens: 6,
      totalTokens: 160 + 32,
    });
    expect(left.inputTokens).toBe(100);
  });

  it('add of two empty usages has no cacheWrite1hTokens', () => {
    expect(addTokenUsage(emptyTokenUsage(), {})).toEqual(emptyTokenUsage());
  });
});

describe('tools', () => {
  it.each([
    ['mcp:github:*', 'mcp:github:create_issue', true],
    ['mcp:github:*', 'mcp:github:', true],
    ['mcp:github:*', 'mcp:gitlab:create_issue', false],
    ['mcp:github:*', 'xmcp:github:create_issue', false],
    ['mcp:*:read*', 'mcp:fs:read_file', true],
    ['mcp:*:read*', 'mcp:fs:write_file', false],
    ['*', 'anything', true],
    ['*_file', 'read_file', true],
    ['*_file', 'read_files', false],
    ['Bash', 'Bash', true],
    ['Bash', 'bash', false],
    ['Read', 'ReadFile', false],
    ['Read', 'MyRead', false],
    ['a.b', 'axb', false],
    ['a.b*', 'axbc', false],
    ['a.b*', 'a.bc', true],
    ['tool(1)*', 'tool(1)x', true],
    ['tool(1)*', 'tool1x', false],
    ['x+*', 'xx', false],
    ['x+*', 'x+y', true],
    ['[ab]*', 'a', false],
    ['[ab]*', '[ab]c', true],
    ['a|b*', 'a', false],
    ['a|b*', 'a|bc', true],
    ['^$*', '^$', true],
    ['?*', 'x', false],
    ['a\\d*', 'a1', false],
    ['a\\d*', 'a\\d1', true],
    ['{1}*', '{1}', true],
  ] as const)('matchesToolPattern(%s, %s) is %s', (pattern, name, expected) => {
    expect(matchesToolPattern(pattern, name)).toBe(expected);
  });

  it('isToolAllowed: no rules allow everything', () => {
    expect(isToolAllowed(undefined, 'rm')).toBe(true);
    expect(isToolAllowed({}, 'rm')).toBe(true);
  });

  it('isToolAllowed: an allow list admits only matching tools', () => {
    const rules = { allow: ['read', 'mcp:github:*'] };
    expect(isToolAllowed(rules, 'read')).toBe(true);
    expect(isToolAllowed(rules, 'mcp:github:list')).toBe(true);
    expect(isToolAllowed(rules, 'write')).toBe(false);
    expect(isToolAllowed({ allow: [] }, 'read')).toBe(false);
  });

  it('isToolAllowed: deny wins over allow', () => {
    const rules = { allow: ['mcp:github:*'], deny: ['mcp:github:delete_*'] };
    expect(isToolAllowed(rules, 'mcp:github:list')).toBe(true);
    expect(isToolAllowed(rules, 'mcp:github:delete_repo')).toBe(false);
    expect(isToolAllowed({ allow: ['bash'], deny: ['bash'] }, 'bash')).toBe(false);
    expect(isToolAllowed({ deny: ['*'] }, 'read')).toBe(false);
    expect(isToolAllowed({ deny: ['bash'] }, 'read')).toBe(true);
  });

  it('permission modes', () => {
    expect([...PERMISSION_MODES]).toEqual([
      'default',
      'accept_edits',
      'plan',
      'full_auto',
      'dangerously_skip_permissions',
    ]);
    for (const mode of PERMISSION_MODES) {
      expect(isPermissionMode(mode)).toBe(true);
      expect(normalizePermissionMode(mode)).toBe(mode);
    }
    expect(normalizePermissionMode(undefined)).toBeUndefined();
    expect(normalizePermissionMode(null)).toBeUndefined();
  });

  it('an unknown permission mode is validation_error', () => {
    for (const bad of ['auto', 'DEFAULT', '', 42, {}]) {
      expect(isPermissionMode(bad)).toBe(false);
      expect(codeOf(() => normalizePermissionMode(bad))).toBe('validation_error');
    }
  });
});
