import { AsmError } from './errors.js';
import { isIsoTimestamp, newSessionId, nowIso } from './ids.js';

/** Statuses of a session. */
export const SESSION_STATUSES = ['pending', 'active', 'paused', 'completed', 'failed', 'cancelled'] as const;
/** The status of a session. */
export type SessionStatus = (typeof SESSION_STATUSES)[number];

/** What is recorded per provider for native continuation: `session.metadata.providerSessions[name]`. */
export interface ProviderSessionRecord {
  providerSessionId?: string;
  model?: string;
  updatedAt?: string;
}

/** Free-form context handed to the provider. `systemPrompt` overrides the adapter's own. */
export interface SessionContext {
  systemPrompt?: string;
  [key: string]: unknown;
}

/** A conversation with an agent: a sequence of runs and one ordered event log. */
export interface Session {
  /** `ses_` + 32 hex characters, or the id the app chose. */
  id: string;
  agentId: string;
  status: SessionStatus;
  parentSessionId?: string;
  /**
   * App metadata. The manager maintains `provider` (the adapter name), `providerSessions`
   * (per-provider native session ids) and `correlationId` if the app sets it.
   */
  metadata: Record<string, unknown>;
  context: SessionContext;
  tags: string[];
  createdAt: string;
  updatedAt: string;
  deletedAt?: string;
}

/** Attributes of a new session. */
export interface NewSessionAttributes {
  id?: string;
  agentId: string;
  parentSessionId?: string;
  metadata?: Record<string, unknown>;
  context?: SessionContext;
  tags?: string[];
}

const SESSION_TRANSITIONS: Record<SessionStatus, readonly SessionStatus[]> = {
  pending: ['active', 'failed', 'cancelled'],
  active: ['paused', 'completed', 'failed', 'cancelled'],
  paused: ['active', 'completed', 'failed', 'cancelled'],
  completed: [],
  failed: [],
  cancelled: [],
};

/** True for `completed`, `failed` and `cancelled`. */
export function isTerminalSessionStatus(status: SessionStatus): boolean {
  return status === 'completed' || status === 'failed' || status === 'cancelled';
}

/** True when `value` names a session status. */
export function isSessionStatus(value: unknown): value is SessionStatus {
  return typeof value === 'string' && (SESSION_STATUSES as readonly string[]).includes(value);
}

/**
 * True when a session may move from `from` to `to`:
 * `pending → active ⇄ paused → completed | failed | cancelled`, plus `completed → active` when
 * `reopen` is set. `failed` and `cancelled` are final.
 */
export function canTransitionSession(
  from: SessionStatus,
  to: SessionStatus,
  options: { reopen?: boolean } = {},
): boolean {
  if (from === 'completed' && to === 'active') return options.reopen === true;
  return SESSION_TRANSITIONS[from].includes(to);
}

/** Creates a pending session. `agentId` must be a non-empty string. */
export function createSession(attributes: NewSessionAttributes): Session {
  if (typeof attributes?.agentId !== 'string') {
    throw new AsmError('validation_error', 'agentId is required', { details: { field: 'agentId' } });
  }
  if (attributes.agentId.trim() === '') {
    throw new AsmError('validation_error', 'agentId cannot be empty', { details: { field: 'agentId' } });
  }
  if (attributes.id !== undefined && (typeof attributes.id !== 'string' || attributes.id === '')) {
    throw new AsmError('validation_error', 'id must be a non-empty string', { details: { field: 'id' } });
  }
  if (attributes.tags !== undefined && !isStringArray(attributes.tags)) {
    throw new AsmError('validation_error', 'tags must be an array of strings', {
      details: { field: 'tags' },
    });
  }
  const now = nowIso();
  const session: Session = {
    id: attributes.id ?? newSessionId(),
    agentId: attributes.agentId,
    status: 'pending',
    metadata: { ...(attributes.metadata ?? {}) },
    context: { ...(attributes.context ?? {}) },
    tags: [...(attributes.tags ?? [])],
    createdAt: now,
    updatedAt: now,
  };
  if (attributes.parentSessionId !== undefined) session.parentSessionId = attributes.parentSessionId;
  return session;
}

/**
 * Returns the session with a new status, enforcing the state machine. Moving to the status it already
 * has is a no-op (the same object is returned). An illegal move throws `invalid_transition`.
 */
export function transitionSession(
  session: Session,
  to: SessionStatus,
  options: { reopen?: boolean } = {},
): Session {
  if (!isSessionStatus(to)) {
    throw new AsmError('invalid_status', `Unknown session status: ${String(to)}`, {
      details: { status: to },
    });
  }
  if (session.status === to) return session;
  if (!canTransitionSession(session.status, to, options)) {
    throw new AsmError(
      'invalid_transition',
      `Session ${session.id} cannot go from ${session.status} to ${to}`,
      {
        details: { sessionId: session.id, from: session.status, to },
      },
    );
  }
  return { ...session, status: to, updatedAt: nowIso() };
}

/** Parses a session from its JSON form, checking the fields a store relies on. */
export function sessionFromJSON(json: unknown): Session {
  const record = requireObject(json, 'session');
  requireString(record, 'id');
  requireString(record, 'agentId');
  requireString(record, 'createdAt');
  requireString(record, 'updatedAt');
  if (!isSessionStatus(record.status)) {
    throw new AsmError('invalid_status', `Unknown session status: ${String(record.status)}`);
  }
  if (!isIsoTimestamp(record.createdAt) || !isIsoTimestamp(record.updatedAt)) {
    throw new AsmError('validation_error', 'session timestamps must be ISO-8601 strings');
  }
  return {
    ...(record as unknown as Session),
    metadata: (record.metadata as Record<string, unknown>) ?? {},
    context: (record.context as SessionContext) ?? {},
    tags: (record.tags as string[]) ?? [],
  };
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}

/** @internal */
export function requireObject(json: unknown, what: string): Record<string, unknown> {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new AsmError('validation_error', `${what} must be an object`);
  }
  return json as Record<string, unknown>;
}

/** @internal */
export function requireString(record: Record<string, unknown>, field: string): void {
  if (typeof record[field] !== 'string' || record[field] === '') {
    throw new AsmError('validation_error', `${field} is required`, { details: { field } });
  }
}
