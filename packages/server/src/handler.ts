import { timingSafeEqual } from 'node:crypto';
import {
  AsmError,
  type ErrorCode,
  EVENT_TYPES,
  type EventQuery,
  type EventType,
  isEventType,
  isSessionStatus,
  type ProviderAdapter,
  SESSION_ORDERS,
  type Session,
  type SessionOrder,
  type SessionStatus,
  type SessionStore,
  type StoredEvent,
  supportsSessionQuery,
} from '@asm/core';
import { createSessionRuntime, type SessionRuntime } from '@asm/runtime';
import { type Context, Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import {
  DashboardFiles,
  type DashboardOptions,
  dashboardAuthRequest,
  dashboardCookie,
  defaultDashboardDirectory,
} from './dashboard.js';
import { SessionFeeds, streamSessionEvents } from './sse.js';
import { isoParam, summarizeSession, usageOfRuns, usageOfStore } from './usage.js';

/** Decides whether a request may proceed. Return false (or throw) to answer 401. */
export type AuthorizeRequest = (request: Request) => boolean | Promise<boolean>;

/** Options of `createAsmHandler`. */
export interface AsmHandlerOptions {
  /** The runtime whose session servers execute submitted runs… */
  runtime?: SessionRuntime;
  /** …or a store and a provider to make one from. */
  store?: SessionStore;
  provider?: ProviderAdapter;
  /** Checks every request (see `bearerToken`). Without it, `createAsmServer` binds to loopback only. */
  authorize?: AuthorizeRequest;
  /** Where the routes are mounted, e.g. `/agents`. Default `/`. */
  basePath?: string;
  /** Largest request body. Default 1 MiB (413 beyond). */
  maxBodyBytes?: number;
  /** Comment line sent on idle SSE streams. Default 15,000 ms. */
  heartbeatMs?: number;
  /**
   * Shortest time between two writes of one SSE stream: events arriving meanwhile leave together.
   * Default 10 ms (a fast run then costs each client ~100 writes a second, not one per delta); 0
   * writes as soon as the event loop turns. An event after a quiet spell is never held back.
   */
  sseBatchMs?: number;
  /**
   * The web dashboard at `{basePath}/ui/`, behind `authorize` like every route. On by default;
   * `false` turns it off (its paths then answer 404). See the README's "Dashboard" section.
   */
  dashboard?: boolean | DashboardOptions;
}

/** A `fetch`-style handler plus the runtime behind it. */
export interface AsmHandler {
  fetch(request: Request): Promise<Response>;
  readonly runtime: SessionRuntime;
  /** Ends the open event streams and stops the session servers it started (not the store or provider). */
  close(): Promise<void>;
}

const UNAUTHORIZED_PAGE =
  '<!doctype html><meta charset="utf-8"><title>Unauthorized</title>' +
  "<p>This dashboard needs the server's token: open it once as <code>/ui/?token=&lt;token&gt;</code>.</p>";

const ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;

/** HTTP status for an error code. */
export function httpStatusFor(code: ErrorCode): number {
  if (code.endsWith('_not_found') || code === 'not_found') return 404;
  if (code === 'invalid_transition' || code === 'invalid_operation' || code === 'already_exists') return 409;
  if (code === 'max_runs_exceeded' || code === 'max_sessions_exceeded') return 429;
  if (code === 'cancelled') return 409;
  if (code.startsWith('storage_') || code === 'dependency_not_available') return 503;
  if (code === 'capability_not_supported') return 501;
  if (
    code.startsWith('invalid_') ||
    code.startsWith('validation') ||
    code === 'missing_required_field' ||
    code === 'missing_required_capability' ||
    code === 'policy_violation'
  ) {
    return 400;
  }
  return 500;
}

/** An `authorize` hook accepting `Authorization: Bearer <token>` for one of the tokens (constant-time). */
export function bearerToken(...tokens: string[]): AuthorizeRequest {
  if (tokens.length === 0 || tokens.some((token) => typeof token !== 'string' || token.length < 8)) {
    throw new AsmError('validation_error', 'bearerToken needs tokens of at least 8 characters');
  }
  const expected = tokens.map((token) => Buffer.from(token));
  return (request) => {
    const header = request.headers.get('authorization') ?? '';
    const match = /^Bearer\s+(.+)$/i.exec(header);
    if (!match) return false;
    const given = Buffer.from(match[1]!.trim());
    return expected.some((token) => token.length === given.length && timingSafeEqual(token, given));
  };
}

function checkId(value: string, field: string): string {
  if (!ID_PATTERN.test(value)) {
    throw new AsmError('validation_error', `${field} is not a valid id`, { details: { field } });
  }
  return value;
}

function optionalInteger(value: string | undefined, field: string, minimum: number): number | undefined {
  if (value === undefined || value === '') return undefined;
  if (!/^\d+$/.test(value) || Number(value) < minimum) {
    throw new AsmError('validation_error', `${field} must be an integer >= ${minimum}`, {
      details: { field },
    });
  }
  return Number(value);
}

function typesParam(value: string | undefined): EventType[] | undefined {
  if (value === undefined || value === '') return undefined;
  const types = value.split(',');
  for (const type of types) {
    if (!isEventType(type)) {
      throw new AsmError('invalid_event_type', `Unknown event type: ${type}`, {
        details: { allowed: EVENT_TYPES },
      });
    }
  }
  return types as EventType[];
}

/** The body as an object with only `allowed` fields; 413 past the cap, 400 for bad JSON. */
async function readBody(
  request: Request,
  maxBytes: number,
  allowed: readonly string[],
): Promise<Record<string, unknown>> {
  const declared = Number(request.headers.get('content-length') ?? '0');
  if (declared > maxBytes)
    throw new AsmError('validation_error', 'Request body too large', { details: { status: 413, maxBytes } });
  const text = await request.text();
  if (Buffer.byteLength(text, 'utf8') > maxBytes) {
    throw new AsmError('validation_error', 'Request body too large', { details: { status: 413, maxBytes } });
  }
  if (text.trim() === '') return {};
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new AsmError('validation_error', 'The request body is not valid JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new AsmError('validation_error', 'The request body must be a JSON object');
  }
  const unknown = Object.keys(body).filter((key) => !allowed.includes(key));
  if (unknown.length > 0) {
    throw new AsmError('validation_error', `Unknown field(s): ${unknown.join(', ')}`, {
      details: { fields: unknown, allowed },
    });
  }
  return body as Record<string, unknown>;
}

function errorResponse(error: unknown): Response {
  const failure = AsmError.isInstance(error)
    ? error
    : AsmError.from(error, 'internal_error', 'Internal error');
  const status =
    typeof failure.details.status === 'number' ? failure.details.status : httpStatusFor(failure.code);
  const details = { ...failure.details };
  delete details.status;
  const body: Record<string, unknown> = {
    code: failure.code,
    message: status === 500 ? 'Internal error' : failure.message,
  };
  if (status !== 500 && Object.keys(details).length > 0) body.details = details;
  return Response.json({ error: body }, { status });
}

function encodeCursor(offset: number): string {
  return Buffer.from(JSON.stringify({ o: offset })).toString('base64url');
}

function decodeCursor(cursor: string | undefined): number {
  if (cursor === undefined || cursor === '') return 0;
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { o?: unknown };
    if (typeof parsed.o === 'number' && Number.isInteger(parsed.o) && parsed.o >= 0) return parsed.o;
  } catch {
    // fall through
  }
  throw new AsmError('invalid_cursor', 'The cursor is malformed', { details: { field: 'cursor' } });
}

/** Approvals of a run still waiting for an answer. */
function pendingApprovals(events: StoredEvent[]) {
  const answered = new Set(
    events
      .filter((event) => event.type === 'tool_approval_granted' || event.type === 'tool_approval_denied')
      .map((event) => String(event.data.toolCallId)),
  );
  const ended = events.some((event) =>
    ['run_completed', 'run_failed', 'run_cancelled', 'run_timeout'].includes(event.type),
  );
  if (ended) return [];
  return events
    .filter(
      (event) => event.type === 'tool_approval_requested' && !answered.has(String(event.data.toolCallId)),
    )
    .map((event) => ({
      toolCallId: event.data.toolCallId,
      toolName: event.data.toolName,
      toolInput: event.data.toolInput,
      requestedAt: event.timestamp,
      sequence: event.sequence,
    }));
}

/**
 * A standard `fetch(Request) => Promise<Response>` handler over a session runtime: JSON routes for
 * sessions, runs, events, usage and approvals, a Server-Sent Events stream of a session's events
 * that resumes from `Last-Event-ID`, and the web dashboard at `{basePath}/ui/` (on unless
 * `dashboard: false`). Mount it in Next.js route handlers, Hono, Bun or Node.
 */
export function createAsmHandler(options: AsmHandlerOptions): AsmHandler {
  let runtime = options.runtime;
  const ownsRuntime = runtime === undefined;
  if (!runtime) {
    if (!options.store || !options.provider) {
      throw new AsmError('validation_error', 'createAsmHandler needs a runtime, or a store and a provider');
    }
    runtime = createSessionRuntime({ store: options.store, provider: options.provider });
  }
  const manager = runtime.manager;
  const store = manager.store;
  const maxBody = options.maxBodyBytes ?? 1_048_576;
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  const sseBatchMs = options.sseBatchMs ?? 10;
  if (!Number.isFinite(sseBatchMs) || sseBatchMs < 0) {
    throw new AsmError('validation_error', 'sseBatchMs must be a number >= 0', {
      details: { field: 'sseBatchMs' },
    });
  }
  const basePath = (options.basePath ?? '/').replace(/\/$/, '');
  const feeds = new SessionFeeds(store, manager.bus, sseBatchMs);
  const openStreams = new Set<AbortController>();
  const app = new Hono().basePath(basePath || '/');

  app.onError((error) => errorResponse(error));
  app.notFound(() => errorResponse(new AsmError('not_found', 'No such route')));

  const uiRoot = `${basePath}/ui`;
  const isDashboardPath = (path: string) => path === uiRoot || path.startsWith(`${uiRoot}/`);
  const authorize = options.authorize;
  const isAllowed = async (request: Request) => {
    if (!authorize) return true;
    try {
      return (await authorize(request)) === true;
    } catch {
      return false;
    }
  };
  const unauthorized = () =>
    Response.json({ error: { code: 'unauthorized', message: 'Unauthorized' } }, { status: 401 });
  if (authorize) {
    app.use('*', async (context, next) => {
      // Dashboard files check `authorize` themselves (the token may come from `?token=` or a cookie).
      if (options.dashboard !== false && isDashboardPath(context.req.path)) return next();
      if (!(await isAllowed(context.req.raw))) return unauthorized();
      await next();
    });
  }

  const requireSession = async (sessionId: string) => {
    const session = await manager.getSession(checkId(sessionId, 'sessionId'));
    if (!session)
      throw new AsmError('session_not_found', `Session not found: ${sessionId}`, { details: { sessionId } });
    return session;
  };
  const requireRun = async (runId: string) => {
    const run = await manager.getRun(checkId(runId, 'runId'));
    if (!run) throw new AsmError('run_not_found', `Run not found: ${runId}`, { details: { runId } });
    return run;
  };

  app.get('/api/health', (context) => context.json({ ok: true }));

  if (options.dashboard !== false) {
    const files = new DashboardFiles(
      (typeof options.dashboard === 'object' ? options.dashboard.directory : undefined) ??
        defaultDashboardDirectory(),
    );
    const serveDashboard = async (context: Context) => {
      const raw = context.req.raw;
      if (raw.method !== 'GET' && raw.method !== 'HEAD') {
        return Response.json(
          { error: { code: 'invalid_operation', message: 'The dashboard answers GET and HEAD only' } },
          { status: 405, headers: { allow: 'GET, HEAD' } },
        );
      }
      const path = context.req.path;
      const url = new URL(raw.url);
      if (path === uiRoot) {
        // Relative asset URLs need the trailing slash.
        return new Response(null, { status: 308, headers: { location: `${uiRoot}/${url.search}` } });
      }
      const extra: Record<string, string> = {};
      if (authorize) {
        const { request, queryToken } = dashboardAuthRequest(raw);
        if (!(await isAllowed(request))) {
          if (!(raw.headers.get('accept') ?? '').includes('text/html')) return unauthorized();
          return new Response(UNAUTHORIZED_PAGE, {
            status: 401,
            headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' },
          });
        }
        if (queryToken !== undefined) {
          extra['set-cookie'] = dashboardCookie(queryToken, `${uiRoot}/`, url.protocol === 'https:');
        }
      }
      let relative: string;
      try {
        relative = decodeURIComponent(path.slice(uiRoot.length + 1));
      } catch {
        relative = '\0';
      }
      const response = files.respond(relative, raw, extra);
      if (response) return response;
      return errorResponse(new AsmError('not_found', 'No such dashboard file'));
    };
    app.all('/ui', serveDashboard);
    app.all('/ui/*', serveDashboard);
  }

  app.post('/api/sessions', async (context) => {
    const body = await readBody(context.req.raw, maxBody, ['agentId', 'metadata', 'context', 'tags']);
    const server = await runtime.start({ session: body as never });
    return context.json(await requireSession(server.sessionId), 201);
  });

  app.get('/api/sessions', async (context) => {
    const query = context.req.query();
    const limit = optionalInteger(query.limit, 'limit', 1) ?? 50;
    if (limit > 1_000)
      throw new AsmError('validation_error', 'limit must be <= 1000', { details: { field: 'limit' } });
    let status: SessionStatus | undefined;
    if (query.status !== undefined) {
      if (!isSessionStatus(query.status))
        throw new AsmError('invalid_status', `Unknown status: ${query.status}`);
      status = query.status;
    }
    const include = query.include === undefined || query.include === '' ? [] : query.include.split(',');
    for (const item of include) {
      if (item !== 'summary') {
        throw new AsmError('validation_error', `Unknown include: ${item}`, {
          details: { field: 'include', allowed: ['summary'] },
        });
      }
    }
    let page: Session[];
    let nextCursor: string | null;
    let totalCount: number | undefined;
    if (query.order !== undefined) {
      if (!(SESSION_ORDERS as readonly string[]).includes(query.order)) {
        throw new AsmError('validation_error', `Unknown order: ${query.order}`, {
          details: { field: 'order', allowed: SESSION_ORDERS },
        });
      }
      if (!supportsSessionQuery(store)) {
        throw new AsmError('capability_not_supported', 'This store cannot order sessions; omit order', {
          details: { field: 'order' },
        });
      }
      const result = await store.searchSessions({
        orderBy: query.order as SessionOrder,
        limit,
        ...(status ? { status } : {}),
        ...(query.agentId ? { agentId: query.agentId } : {}),
        ...(query.cursor ? { cursor: query.cursor } : {}),
      });
      page = result.items;
      nextCursor = result.nextCursor ?? null;
      totalCount = result.totalCount;
    } else {
      const offset = decodeCursor(query.cursor);
      const sessions = await store.listSessions({
        ...(status ? { status } : {}),
        ...(query.agentId ? { agentId: query.agentId } : {}),
        limit: limit + 1,
        offset,
      });
      page = sessions.slice(0, limit);
      nextCursor = sessions.length > limit ? encodeCursor(offset + limit) : null;
    }
    const sessions = include.includes('summary')
      ? await Promise.all(
          page.map(async (session) => ({
            ...session,
            summary: summarizeSession(
              await store.listRuns(session.id),
              typeof session.metadata.provider === 'string' ? session.metadata.provider : undefined,
            ),
          })),
        )
      : page;
    return context.json({ sessions, nextCursor, ...(totalCount === undefined ? {} : { totalCount }) });
  });

  app.get('/api/sessions/:sessionId', async (context) =>
    context.json(await requireSession(context.req.param('sessionId'))),
  );

  app.post('/api/sessions/:sessionId/runs', async (context) => {
    const session = await requireSession(context.req.param('sessionId'));
    const body = await readBody(context.req.raw, maxBody, ['input', 'timeoutMs', 'continuation', 'metadata']);
    if (body.input === undefined)
      throw new AsmError('validation_error', 'input is required', { details: { field: 'input' } });
    const server = await runtime.start({ sessionId: session.id });
    const runId = await server.submitRun(body.input as string, {
      ...(typeof body.timeoutMs === 'number' ? { timeoutMs: body.timeoutMs } : {}),
      ...(body.continuation !== undefined ? { continuation: body.continuation as false } : {}),
      ...(typeof body.metadata === 'object' && body.metadata !== null
        ? { metadata: body.metadata as Record<string, unknown> }
        : {}),
    });
    server.awaitRun(runId).catch(() => undefined);
    return context.json({ runId, sessionId: session.id, status: 'pending' }, 202);
  });

  app.get('/api/sessions/:sessionId/runs', async (context) => {
    const session = await requireSession(context.req.param('sessionId'));
    return context.json({ runs: await manager.listRuns(session.id) });
  });

  app.get('/api/runs/:runId', async (context) => context.json(await requireRun(context.req.param('runId'))));

  app.post('/api/runs/:runId/cancel', async (context) => {
    const run = await requireRun(context.req.param('runId'));
    const body = await readBody(context.req.raw, maxBody, ['reason']);
    const server = runtime.get(run.sessionId);
    const reason = typeof body.reason === 'string' ? body.reason : 'Cancelled over HTTP';
    if (server) await server.cancelRun(run.id, reason);
    else await manager.cancelRun(run.id, { reason });
    return context.json(await requireRun(run.id), 202);
  });

  app.get('/api/sessions/:sessionId/events', async (context) => {
    const session = await requireSession(context.req.param('sessionId'));
    const query = context.req.query();
    const limit = optionalInteger(query.limit, 'limit', 1) ?? 100;
    if (limit > 1_000)
      throw new AsmError('validation_error', 'limit must be <= 1000', { details: { field: 'limit' } });
    const eventQuery: EventQuery = { limit };
    const after = optionalInteger(query.after, 'after', 0);
    if (after !== undefined) eventQuery.after = after;
    if (query.runId) eventQuery.runId = checkId(query.runId, 'runId');
    const types = typesParam(query.types);
    if (types) eventQuery.types = types;
    const events = await store.getEvents(session.id, eventQuery);
    return context.json({ events, nextAfter: events.at(-1)?.sequence ?? after ?? 0 });
  });

  app.get('/api/sessions/:sessionId/events/stream', async (context: Context) => {
    const session = await requireSession(context.req.param('sessionId') ?? '');
    const query = context.req.query();
    const lastEventId = context.req.header('last-event-id');
    const after =
      optionalInteger(lastEventId ?? query.after, lastEventId ? 'Last-Event-ID' : 'after', 0) ?? 0;
    const runId = query.runId ? checkId(query.runId, 'runId') : undefined;
    const types = typesParam(query.types);
    return streamSSE(context, async (stream) => {
      const controller = new AbortController();
      openStreams.add(controller);
      stream.onAbort(() => controller.abort());
      const heartbeat = setInterval(() => {
        void stream.write(': ping\n\n').catch(() => controller.abort());
      }, heartbeatMs);
      try {
        await streamSessionEvents(stream, {
          store,
          bus: manager.bus,
          feeds,
          sessionId: session.id,
          after,
          ...(runId ? { runId } : {}),
          ...(types ? { types } : {}),
          batchMs: sseBatchMs,
          signal: controller.signal,
        });
      } finally {
        clearInterval(heartbeat);
        controller.abort();
        openStreams.delete(controller);
      }
    });
  });

  app.get('/api/sessions/:sessionId/usage', async (context) => {
    const session = await requireSession(context.req.param('sessionId'));
    return context.json({ sessionId: session.id, ...usageOfRuns(await manager.listRuns(session.id)) });
  });

  app.get('/api/usage', async (context) => {
    const query = context.req.query();
    const since = isoParam(query.since, 'since');
    const until = isoParam(query.until, 'until');
    return context.json(
      await usageOfStore(store, {
        ...(since === undefined ? {} : { since }),
        ...(until === undefined ? {} : { until }),
        ...(query.agentId ? { agentId: query.agentId } : {}),
      }),
    );
  });

  app.get('/api/runs/:runId/approvals', async (context) => {
    const run = await requireRun(context.req.param('runId'));
    const events = await store.getEvents(run.sessionId, {
      runId: run.id,
      types: [
        'tool_approval_requested',
        'tool_approval_granted',
        'tool_approval_denied',
        'run_completed',
        'run_failed',
        'run_cancelled',
        'run_timeout',
      ],
    });
    return context.json({ runId: run.id, approvals: pendingApprovals(events) });
  });

  app.post('/api/runs/:runId/approvals/:toolCallId/approve', async (context) => {
    const run = await requireRun(context.req.param('runId'));
    const toolCallId = checkId(context.req.param('toolCallId'), 'toolCallId');
    const body = await readBody(context.req.raw, maxBody, ['input', 'approvedBy']);
    await manager.approveToolCall(run.id, toolCallId, {
      ...(body.input !== undefined ? { input: body.input } : {}),
      ...(typeof body.approvedBy === 'string' ? { approvedBy: body.approvedBy } : {}),
    });
    return context.json({ runId: run.id, toolCallId, decision: 'granted' });
  });

  app.post('/api/runs/:runId/approvals/:toolCallId/deny', async (context) => {
    const run = await requireRun(context.req.param('runId'));
    const toolCallId = checkId(context.req.param('toolCallId'), 'toolCallId');
    const body = await readBody(context.req.raw, maxBody, ['reason', 'deniedBy']);
    await manager.denyToolCall(run.id, toolCallId, {
      ...(typeof body.reason === 'string' ? { reason: body.reason } : {}),
      ...(typeof body.deniedBy === 'string' ? { deniedBy: body.deniedBy } : {}),
    });
    return context.json({ runId: run.id, toolCallId, decision: 'denied' });
  });

  return {
    fetch: (request) => Promise.resolve(app.fetch(request)),
    runtime,
    async close() {
      for (const stream of openStreams) stream.abort();
      if (ownsRuntime) await runtime.close({ cancelInFlight: true });
    },
  };
}
