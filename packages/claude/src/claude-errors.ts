import Anthropic from '@anthropic-ai/sdk';
import {
  AsmError,
  type ErrorCode,
  errorCodeForHttpStatus,
  normalizeProviderError,
  type ProviderErrorKind,
} from '@asm/core';

/** Facts about a failed request, from an SDK error or from the adapter itself. */
interface FailureFacts {
  code: ErrorCode;
  kind: ProviderErrorKind;
  message: string;
  status?: number;
  requestId?: string;
  retryAfterSeconds?: number;
  errorType?: string;
}

/**
 * Error `type` of an Anthropic error body or streamed `error` event → code and kind.
 * https://docs.anthropic.com/en/api/errors — an unknown type is a plain `provider_error`.
 */
export function mapAnthropicErrorType(type: string | null | undefined): {
  code: ErrorCode;
  kind: ProviderErrorKind;
} {
  switch (type) {
    case 'overloaded_error':
      return { code: 'provider_unavailable', kind: 'overloaded' };
    case 'api_error':
      return { code: 'provider_unavailable', kind: 'api_error' };
    case 'rate_limit_error':
      return { code: 'provider_rate_limited', kind: 'rate_limit' };
    case 'authentication_error':
    case 'permission_error':
      return { code: 'provider_authentication_failed', kind: 'authentication' };
    case 'billing_error':
      return { code: 'provider_quota_exceeded', kind: 'billing' };
    case 'timeout_error':
      return { code: 'provider_timeout', kind: 'timeout' };
    default:
      return { code: 'provider_error', kind: type ? 'api_error' : 'unknown' };
  }
}

/** @internal HTTP status → kind: 401/403 authentication, 429 rate limit, 529 overloaded, 408/504 timeout, anything else an HTTP error. */
export function kindForStatus(status: number): ProviderErrorKind {
  if (status === 401 || status === 403) return 'authentication';
  if (status === 429) return 'rate_limit';
  if (status === 529) return 'overloaded';
  if (status === 408 || status === 504) return 'timeout';
  return 'http_error';
}

/** Seconds to wait from `retry-after-ms` or `retry-after` (seconds or an HTTP date); undefined without them. */
export function retryAfterSecondsOf(
  headers: { get(name: string): string | null } | undefined,
): number | undefined {
  if (!headers || typeof headers.get !== 'function') return undefined;
  const milliseconds = headers.get('retry-after-ms');
  if (milliseconds !== null && milliseconds.trim() !== '' && Number.isFinite(Number(milliseconds))) {
    return Math.max(0, Number(milliseconds) / 1000);
  }
  const value = headers.get('retry-after');
  if (value === null || value.trim() === '') return undefined;
  if (Number.isFinite(Number(value))) return Math.max(0, Number(value));
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

function toAsmError(provider: string, facts: FailureFacts, cause?: unknown): AsmError {
  const providerError = normalizeProviderError(provider, {
    kind: facts.kind,
    message: facts.message,
    ...(facts.status === undefined ? {} : { status: facts.status }),
    ...(facts.requestId === undefined ? {} : { requestId: facts.requestId }),
    ...(facts.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: facts.retryAfterSeconds }),
  });
  const details: Record<string, unknown> = {};
  if (facts.status !== undefined) details.status = facts.status;
  if (facts.errorType !== undefined) details.errorType = facts.errorType;
  if (facts.requestId !== undefined) details.requestId = facts.requestId;
  if (facts.retryAfterSeconds !== undefined) details.retryAfterSeconds = facts.retryAfterSeconds;
  return new AsmError(facts.code, facts.message, {
    details,
    providerError,
    ...(cause === undefined ? {} : { cause }),
  });
}

interface ApiErrorLike {
  status?: unknown;
  headers?: { get(name: string): string | null };
  requestID?: string | null;
  apiMessage?: string | null;
  type?: string | null;
  message?: string;
}

function isApiErrorLike(error: unknown): error is ApiErrorLike & Error {
  if (error instanceof Anthropic.APIError) return true;
  // An error from another installed copy of the SDK (an injected client).
  return (
    error instanceof Error &&
    'requestID' in error &&
    'apiMessage' in error &&
    ('status' in error || 'type' in error)
  );
}

/**
 * Turns anything the SDK (or the stream) threw into an `AsmError` with `providerError` filled in:
 *
 * - an HTTP status: 401/403 `provider_authentication_failed`, 402 `provider_quota_exceeded`,
 *   408 `provider_timeout`, 429 `provider_rate_limited` (with `retryAfterSeconds`), 409, 5xx and 529
 *   `provider_unavailable`, other 4xx `provider_error` with the API's message;
 * - a streamed `error` event (no status): by its `type` (see `mapAnthropicErrorType`);
 * - a connection timeout: `provider_timeout`; another connection error or a stream cut off
 *   mid-way: `provider_unavailable`; malformed stream data: `provider_error` (`parse_error`);
 * - an `AsmError` passes through.
 */
export function toClaudeError(error: unknown, provider: string): AsmError {
  if (AsmError.isInstance(error)) return error;
  if (error instanceof Anthropic.APIConnectionTimeoutError) {
    return toAsmError(provider, { code: 'provider_timeout', kind: 'timeout', message: error.message }, error);
  }
  if (error instanceof Anthropic.APIConnectionError) {
    const cause = (error as { cause?: unknown }).cause;
    const detail = cause instanceof Error && cause.message ? `: ${cause.message}` : '';
    return toAsmError(
      provider,
      { code: 'provider_unavailable', kind: 'connection_error', message: `${error.message}${detail}` },
      error,
    );
  }
  if (isApiErrorLike(error)) {
    const requestId = typeof error.requestID === 'string' ? error.requestID : undefined;
    const message = error.apiMessage || error.message || 'Anthropic API error';
    const type = typeof error.type === 'string' ? error.type : undefined;
    if (typeof error.status === 'number') {
      const status = error.status;
      const retryAfterSeconds = retryAfterSecondsOf(error.headers);
      return toAsmError(
        provider,
        {
          code: errorCodeForHttpStatus(status),
          kind: kindForStatus(status),
          message,
          status,
          ...(requestId === undefined ? {} : { requestId }),
          ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
          ...(type === undefined ? {} : { errorType: type }),
        },
        error,
      );
    }
    const mapped = mapAnthropicErrorType(type);
    return toAsmError(
      provider,
      {
        ...mapped,
        message,
        ...(requestId === undefined ? {} : { requestId }),
        ...(type === undefined ? {} : { errorType: type }),
      },
      error,
    );
  }
  if (error instanceof SyntaxError) {
    return toAsmError(
      provider,
      { code: 'provider_error', kind: 'parse_error', message: `Malformed stream data: ${error.message}` },
      error,
    );
  }
  if (error instanceof TypeError && /terminated|other side closed|socket/i.test(error.message)) {
    return toAsmError(
      provider,
      {
        code: 'provider_unavailable',
        kind: 'stream_truncated',
        message: `The stream was cut off: ${error.message}`,
      },
      error,
    );
  }
  const message = error instanceof Error ? error.message : String(error);
  return toAsmError(provider, { code: 'provider_error', kind: 'unknown', message }, error);
}

/** The error for a stream that ended without `message_stop`. */
export function truncatedStreamError(provider: string, requestId: string | undefined): AsmError {
  return toAsmError(provider, {
    code: 'provider_unavailable',
    kind: 'stream_truncated',
    message: 'The stream ended without message_stop',
    ...(requestId === undefined ? {} : { requestId }),
  });
}

/** The error for a stream silent for longer than `idleTimeoutMs`. */
export function idleTimeoutError(
  provider: string,
  idleTimeoutMs: number,
  requestId: string | undefined,
): AsmError {
  return toAsmError(provider, {
    code: 'provider_timeout',
    kind: 'timeout',
    message: `No data from the Anthropic API for ${idleTimeoutMs} ms`,
    ...(requestId === undefined ? {} : { requestId }),
  });
}

/** The error for a run started without credentials. */
export function missingApiKeyError(provider: string): AsmError {
  return toAsmError(provider, {
    code: 'provider_authentication_failed',
    kind: 'authentication',
    message:
      'No Anthropic API key: pass apiKey to createClaudeProvider or set the ANTHROPIC_API_KEY environment variable',
  });
}

/** The error for a tool call whose streamed input is not valid JSON. */
export function invalidToolInputError(
  provider: string,
  toolName: string,
  requestId: string | undefined,
): AsmError {
  return toAsmError(provider, {
    code: 'provider_error',
    kind: 'parse_error',
    message: `The model's input for tool ${toolName} is not valid JSON`,
    ...(requestId === undefined ? {} : { requestId }),
  });
}
