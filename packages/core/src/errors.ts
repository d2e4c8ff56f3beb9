/**
 * The error taxonomy: one error class, `AsmError`, with a machine-readable `code` from a closed set.
 *
 * Codes keep the reference library's snake_case names because they are persisted (in `run_failed`
 * events, in run rows) and travel over the wire.
 */

/** Codes by category. The 45 codes of the taxonomy plus the extra codes used by stores and tools. */
export const ERROR_CODES_BY_CATEGORY = {
  validation: ['validation_error', 'invalid_input', 'missing_required_field', 'invalid_format'],
  state: [
    'invalid_status',
    'invalid_transition',
    'invalid_event_type',
    'invalid_capability_type',
    'missing_required_capability',
    'stream_closed',
    'context_mismatch',
    'invalid_cursor',
    'session_mismatch',
    'run_mismatch',
  ],
  resource: [
    'not_found',
    'session_not_found',
    'run_not_found',
    'capability_not_found',
    'already_exists',
    'duplicate_capability',
  ],
  provider: [
    'provider_error',
    'provider_unavailable',
    'provider_rate_limited',
    'provider_timeout',
    'provider_authentication_failed',
    'provider_quota_exceeded',
  ],
  storage: [
    'storage_error',
    'storage_connection_failed',
    'dependency_not_available',
    'migration_required',
    'storage_write_failed',
    'storage_read_failed',
    'query_error',
    'maintenance_error',
    'persistence_error',
  ],
  runtime: ['timeout', 'cancelled', 'policy_violation', 'internal_error', 'unknown_error'],
  concurrency: [
    'max_sessions_exceeded',
    'max_runs_exceeded',
    'capability_not_supported',
    'invalid_operation',
  ],
  tool: [
    'tool_error',
    'tool_not_found',
    'tool_execution_failed',
    'tool_permission_denied',
    'command_not_found',
    'command_failed',
    'command_timeout',
  ],
} as const;

/** The category an error code belongs to. */
export type ErrorCategory = keyof typeof ERROR_CODES_BY_CATEGORY;

/** Every error code `AsmError` can carry. */
export type ErrorCode = (typeof ERROR_CODES_BY_CATEGORY)[ErrorCategory][number];

/** Every error code, in taxonomy order. */
export const ERROR_CODES: readonly ErrorCode[] = Object.values(ERROR_CODES_BY_CATEGORY).flat();

const CATEGORY_BY_CODE = new Map<string, ErrorCategory>();
for (const [category, codes] of Object.entries(ERROR_CODES_BY_CATEGORY)) {
  for (const code of codes) CATEGORY_BY_CODE.set(code, category as ErrorCategory);
}

/** The only codes a caller may retry as they are: transient faults of a provider or a store. */
export const RETRYABLE_ERROR_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'provider_timeout',
  'provider_rate_limited',
  'provider_unavailable',
  'storage_connection_failed',
  'timeout',
]);

const DEFAULT_MESSAGES: Partial<Record<ErrorCode, string>> = {
  validation_error: 'Validation failed',
  invalid_input: 'Invalid input',
  missing_required_field: 'A required field is missing',
  invalid_format: 'Invalid format',
  invalid_status: 'Invalid status',
  invalid_transition: 'Invalid state transition',
  invalid_event_type: 'Invalid event type',
  invalid_capability_type: 'Invalid capability type',
  missing_required_capability: 'A required capability is missing',
  stream_closed: 'The stream is closed',
  context_mismatch: 'Context mismatch',
  invalid_cursor: 'Invalid cursor',
  session_mismatch: 'Session mismatch',
  run_mismatch: 'Run mismatch',
  not_found: 'Resource not found',
  session_not_found: 'Session not found',
  run_not_found: 'Run not found',
  capability_not_found: 'Capability not found',
  already_exists: 'Resource already exists',
  duplicate_capability: 'Duplicate capability',
  provider_error: 'Provider error',
  provider_unavailable: 'Provider unavailable',
  provider_rate_limited: 'Provider rate limit exceeded',
  provider_timeout: 'Provider request timed out',
  provider_authentication_failed: 'Provider authentication failed',
  provider_quota_exceeded: 'Provider quota exceeded',
  storage_error: 'Storage error',
  storage_connection_failed: 'Storage connection failed',
  dependency_not_available: 'Required optional dependency is not available',
  migration_required: 'The database schema needs a migration',
  storage_write_failed: 'Storage write failed',
  storage_read_failed: 'Storage read failed',
  query_error: 'Query failed',
  maintenance_error: 'Maintenance operation failed',
  persistence_error: 'Persistence failed',
  timeout: 'Operation timed out',
  cancelled: 'Operation was cancelled',
  policy_violation: 'Policy violation occurred',
  internal_error: 'Internal error',
  unknown_error: 'An error occurred',
  max_sessions_exceeded: 'Maximum number of sessions exceeded',
  max_runs_exceeded: 'Maximum number of runs exceeded',
  capability_not_supported: 'Capability not supported',
  invalid_operation: 'Invalid operation',
  tool_error: 'Tool error',
  tool_not_found: 'Tool not found',
  tool_execution_failed: 'Tool execution failed',
  tool_permission_denied: 'Tool permission denied',
  command_not_found: 'Command not found',
  command_failed: 'Command failed',
  command_timeout: 'Command timed out',
};

/** Which provider produced a provider error. Open-ended: third-party adapters use their own name. */
export type ProviderErrorKind =
  | 'http_error'
  | 'rate_limit'
  | 'overloaded'
  | 'authentication'
  | 'transport_exit'
  | 'process_error'
  | 'parse_error'
  | 'protocol_error'
  | 'cli_not_found'
  | 'timeout'
  | 'stream_truncated'
  | 'unknown'
  | (string & {});

/** A provider failure, normalized so it can be persisted and shown the same way for every provider. */
export interface ProviderErrorInfo {
  /** The adapter name (`claude`, `codex`, `amp`, or a third-party name). */
  provider: string;
  kind: ProviderErrorKind;
  message: string;
  /** HTTP status of the failed request, when there was one. */
  status?: number;
  /** Exit code of the provider's process, for CLI-driven providers. */
  exitCode?: number;
  /** Standard error of the provider's process, cut to `errorTextMaxBytes` / `errorTextMaxLines`. */
  stderr?: string;
  /** True when `stderr` was cut. */
  truncated?: boolean;
  /** The provider's own request id, for support tickets. */
  requestId?: string;
  /** Seconds the provider asked us to wait (`retry-after`). */
  retryAfterSeconds?: number;
}

/** Options of the `AsmError` constructor. */
export interface AsmErrorOptions {
  details?: Record<string, unknown>;
  providerError?: ProviderErrorInfo;
  cause?: unknown;
  /** Overrides the retryable flag the code implies (rarely needed). */
  retryable?: boolean;
}

/** What a caller should do with an error: the machine-readable form of the retry guidance. */
export type ErrorAction = 'retry' | 'wait_and_retry' | 'failover' | 'cancel' | 'fail';

const MARKER = Symbol.for('@asm/core/AsmError');

/** The JSON form of an `AsmError`, as stored in run rows and `run_failed` events. */
export interface AsmErrorJson {
  name: 'AsmError';
  code: ErrorCode;
  message: string;
  category: ErrorCategory;
  retryable: boolean;
  details: Record<string, unknown>;
  providerError?: ProviderErrorInfo;
  timestamp: string;
}

/**
 * The one error class of the library. Every async API rejects with it.
 *
 * Use `AsmError.isInstance(error)` rather than `instanceof`: it also recognizes errors made by another
 * installed copy of `@asm/core`.
 */
export class AsmError extends Error {
  override readonly name = 'AsmError';
  readonly code: ErrorCode;
  readonly category: ErrorCategory;
  readonly retryable: boolean;
  readonly details: Record<string, unknown>;
  readonly providerError: ProviderErrorInfo | undefined;
  readonly timestamp: string;

  constructor(code: ErrorCode, message?: string, options: AsmErrorOptions = {}) {
    super(
      message ?? defaultErrorMessage(code),
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.code = code;
    this.category = errorCategory(code);
    this.retryable = options.retryable ?? RETRYABLE_ERROR_CODES.has(code);
    this.details = options.details ?? {};
    this.providerError = options.providerError;
    this.timestamp = new Date().toISOString();
    Object.defineProperty(this, MARKER, { value: true });
  }

  /** True for an `AsmError` from any copy of `@asm/core`. */
  static isInstance(value: unknown): value is AsmError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[MARKER] === true;
  }

  /** Wraps any thrown value: an `AsmError` passes through, anything else gets `code`. */
  static from(error: unknown, code: ErrorCode = 'internal_error', message?: string): AsmError {
    if (AsmError.isInstance(error)) return error;
    const original = error instanceof Error ? error.message : String(error);
    const details: Record<string, unknown> = {};
    if (message !== undefined) details.originalMessage = original;
    if (error instanceof Error && error.name !== 'Error') details.originalName = error.name;
    return new AsmError(code, message ?? original, { cause: error, details });
  }

  /** Rebuilds an error from its JSON form. An unknown code gives `validation_error`. */
  static fromJSON(json: unknown): AsmError {
    if (typeof json !== 'object' || json === null) {
      throw new AsmError('validation_error', 'An error must be an object');
    }
    const record = json as Record<string, unknown>;
    if (typeof record.code !== 'string' || !isErrorCode(record.code)) {
      throw new AsmError('validation_error', 'Invalid error code', { details: { code: record.code } });
    }
    if (typeof record.message !== 'string') {
      throw new AsmError('validation_error', 'An error needs a message');
    }
    const options: AsmErrorOptions = {};
    if (isPlainObject(record.details)) options.details = record.details;
    if (isPlainObject(record.providerError))
      options.providerError = record.providerError as unknown as ProviderErrorInfo;
    if (typeof record.retryable === 'boolean') options.retryable = record.retryable;
    const error = new AsmError(record.code, record.message, options);
    if (typeof record.timestamp === 'string') {
      Object.defineProperty(error, 'timestamp', { value: record.timestamp });
    }
    return error;
  }

  /** `[code] message`. */
  override toString(): string {
    return `[${this.code}] ${this.message}`;
  }

  toJSON(): AsmErrorJson {
    const json: AsmErrorJson = {
      name: 'AsmError',
      code: this.code,
      message: this.message,
      category: this.category,
      retryable: this.retryable,
      details: this.details,
      timestamp: this.timestamp,
    };
    if (this.providerError) json.providerError = this.providerError;
    return json;
  }
}

/** True when `code` names an error code of the taxonomy. */
export function isErrorCode(code: string): code is ErrorCode {
  return CATEGORY_BY_CODE.has(code);
}

/** The category of a code. */
export function errorCategory(code: ErrorCode): ErrorCategory {
  const category = CATEGORY_BY_CODE.get(code);
  if (!category) throw new TypeError(`Unknown error code: ${String(code)}`);
  return category;
}

/** The default message of a code. */
export function defaultErrorMessage(code: ErrorCode): string {
  return DEFAULT_MESSAGES[code] ?? 'An error occurred';
}

/** True when an error, or a code, is worth retrying as it is. */
export function isRetryable(error: unknown): boolean {
  if (typeof error === 'string') return RETRYABLE_ERROR_CODES.has(error as ErrorCode);
  return AsmError.isInstance(error) && error.retryable;
}

/**
 * What to do about an error. The router and runtime use this; apps can too.
 *
 * - `retry`: try again now (timeouts, a dropped store connection)
 * - `wait_and_retry`: try again after `details.retryAfterSeconds` or a backoff (rate limits, full queues)
 * - `failover`: this provider cannot serve now; another may (unavailable, overloaded)
 * - `cancel`: the run was stopped on purpose (cancelled, policy violation)
 * - `fail`: retrying will not help (validation, not found, authentication, quota)
 */
export function classifyError(error: unknown): ErrorAction {
  const code: ErrorCode = AsmError.isInstance(error) ? error.code : 'unknown_error';
  switch (code) {
    case 'provider_timeout':
    case 'storage_connection_failed':
    case 'timeout':
      return 'retry';
    case 'provider_rate_limited':
    case 'max_runs_exceeded':
      return 'wait_and_retry';
    case 'provider_unavailable':
      return 'failover';
    case 'cancelled':
    case 'policy_violation':
      return 'cancel';
    default:
      return 'fail';
  }
}

/**
 * Maps an HTTP status from a provider to an error code: 401/403 authentication, 402 quota,
 * 408 timeout, 409 and 5xx unavailable, 429 rate limited, 529 (overloaded) unavailable.
 */
export function errorCodeForHttpStatus(status: number | undefined): ErrorCode {
  if (status === undefined) return 'provider_error';
  if (status === 401 || status === 403) return 'provider_authentication_failed';
  if (status === 402) return 'provider_quota_exceeded';
  if (status === 408) return 'provider_timeout';
  if (status === 429) return 'provider_rate_limited';
  if (status === 409 || status >= 500) return 'provider_unavailable';
  if (status === 404) return 'provider_error';
  return 'provider_error';
}

/** Result of `truncateText`. */
export interface TruncatedText {
  text: string;
  truncated: boolean;
}

/**
 * Cuts text to at most `maxLines` lines, then to at most `maxBytes` UTF-8 bytes, never splitting a
 * character. Used on provider stderr before it is persisted.
 */
export function truncateText(text: string, maxBytes = 16_384, maxLines = 200): TruncatedText {
  let result = text;
  let truncated = false;
  const lines = result.split('\n');
  if (lines.length > maxLines) {
    result = lines.slice(0, maxLines).join('\n');
    truncated = true;
  }
  const bytes = Buffer.byteLength(result, 'utf8');
  if (bytes > maxBytes) {
    const encoded = Buffer.from(result, 'utf8');
    let end = maxBytes;
    // Step back over UTF-8 continuation bytes (10xxxxxx) so the cut falls on a character boundary.
    while (end > 0 && ((encoded[end] ?? 0) & 0xc0) === 0x80) end--;
    result = encoded.subarray(0, end).toString('utf8');
    truncated = true;
  }
  return { text: result, truncated };
}

/** Input of `normalizeProviderError`. */
export interface ProviderErrorInput {
  kind?: ProviderErrorKind;
  message?: string;
  status?: number;
  exitCode?: number | string;
  stderr?: unknown;
  requestId?: string;
  retryAfterSeconds?: number;
}

/**
 * Builds a `ProviderErrorInfo`: the message falls back to the first line of stderr, stderr is cut to
 * the configured limits, an exit code given as a numeric string is parsed.
 */
export function normalizeProviderError(
  provider: string,
  input: ProviderErrorInput,
  limits: { maxBytes?: number; maxLines?: number } = {},
): ProviderErrorInfo {
  const info: ProviderErrorInfo = {
    provider,
    kind: input.kind ?? 'unknown',
    message: input.message ?? '',
  };
  if (input.stderr !== undefined && input.stderr !== null) {
    const raw = typeof input.stderr === 'string' ? input.stderr : safeStringify(input.stderr);
    const cut = truncateText(raw, limits.maxBytes, limits.maxLines);
    info.stderr = cut.text;
    if (cut.truncated || typeof input.stderr !== 'string') info.truncated = true;
  }
  if (!info.message) {
    const firstLine = info.stderr?.split('\n').find((line) => line.trim() !== '');
    info.message = firstLine?.trim() ?? 'Provider execution failed';
  }
  if (input.status !== undefined) info.status = input.status;
  if (input.exitCode !== undefined) {
    const parsed =
      typeof input.exitCode === 'number'
        ? input.exitCode
        : /^-?\d+$/.test(input.exitCode.trim())
          ? Number(input.exitCode.trim())
          : Number.NaN;
    if (Number.isInteger(parsed)) info.exitCode = parsed;
  }
  if (input.requestId !== undefined) info.requestId = input.requestId;
  if (input.retryAfterSeconds !== undefined) info.retryAfterSeconds = input.retryAfterSeconds;
  return info;
}

function safeStringify(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
