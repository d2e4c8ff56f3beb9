import { AsmError, type ErrorCode, errorCodeForHttpStatus, normalizeProviderError } from '@asm/core';

/**
 * Vendor vocabulary to `AsmError` codes, at the edge, in small pure functions.
 *
 * OpenAI-compatible servers answer errors with `{ "error": { "message", "type", "code" } }`
 * (https://platform.openai.com/docs/guides/error-codes); gateways and local servers (vLLM, Ollama,
 * LiteLLM, OpenRouter) follow the shape loosely, so every field is optional here.
 */

/** The `error` object of an error body, as far as it can be read. */
export interface ChatCompletionsErrorBody {
  message?: string;
  type?: string;
  code?: string | number;
}

/** Reads `{ error: {...} }` (or a bare `{ message }`) from a parsed body; undefined when neither. */
export function readErrorBody(body: unknown): ChatCompletionsErrorBody | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const record = body as Record<string, unknown>;
  const error = typeof record.error === 'object' && record.error !== null ? record.error : record;
  const fields = error as Record<string, unknown>;
  const result: ChatCompletionsErrorBody = {};
  if (typeof fields.message === 'string') result.message = fields.message;
  else if (typeof record.error === 'string') result.message = record.error;
  if (typeof fields.type === 'string') result.type = fields.type;
  if (typeof fields.code === 'string' || typeof fields.code === 'number') result.code = fields.code;
  return Object.keys(result).length > 0 ? result : undefined;
}

/**
 * The code for an error answer: the HTTP status decides (core's table: 401/403 authentication,
 * 402 quota, 408 timeout, 429 rate limited, 409 and 5xx unavailable), refined by the body where
 * OpenAI overloads a status (429 `insufficient_quota` is a quota problem, not a rate limit).
 */
export function errorCodeForChatCompletions(
  status: number | undefined,
  body?: ChatCompletionsErrorBody,
): ErrorCode {
  if (body?.code === 'insufficient_quota' || body?.type === 'insufficient_quota')
    return 'provider_quota_exceeded';
  if (status === undefined && typeof body?.code === 'number') return errorCodeForHttpStatus(body.code);
  if (status === undefined && body?.type === 'server_error') return 'provider_unavailable';
  return errorCodeForHttpStatus(status);
}

/** Seconds from a `retry-after` header (seconds or an HTTP date); undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds;
  const date = Date.parse(value);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, Math.ceil((date - now) / 1000));
}

/** Fields of a provider failure. */
export interface ProviderFailure {
  code: ErrorCode;
  kind: string;
  message: string;
  status?: number;
  requestId?: string;
  retryAfterSeconds?: number;
  cause?: unknown;
}

/** Builds the `AsmError` for a failure, with `providerError` filled in. */
export function providerFailure(provider: string, failure: ProviderFailure): AsmError {
  const providerError = normalizeProviderError(provider, {
    kind: failure.kind,
    message: failure.message,
    ...(failure.status === undefined ? {} : { status: failure.status }),
    ...(failure.requestId === undefined ? {} : { requestId: failure.requestId }),
    ...(failure.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: failure.retryAfterSeconds }),
  });
  return new AsmError(failure.code, `${provider}: ${failure.message}`, {
    providerError,
    ...(failure.cause === undefined ? {} : { cause: failure.cause }),
    details: { provider, ...(failure.status === undefined ? {} : { status: failure.status }) },
  });
}

/** The error for a non-2xx answer, from its status, headers and (JSON or text) body. */
export function httpFailure(provider: string, response: Response, bodyText: string): AsmError {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bodyText);
  } catch {
    parsed = undefined;
  }
  const body = readErrorBody(parsed);
  const message = body?.message ?? (bodyText.trim().slice(0, 500) || `HTTP ${response.status}`);
  const requestId = response.headers.get('x-request-id') ?? undefined;
  const retryAfterSeconds = parseRetryAfter(response.headers.get('retry-after'));
  return providerFailure(provider, {
    code: errorCodeForChatCompletions(response.status, body),
    kind:
      response.status === 429
        ? 'rate_limit'
        : response.status === 401 || response.status === 403
          ? 'authentication'
          : 'http_error',
    message,
    status: response.status,
    ...(requestId === undefined ? {} : { requestId }),
    ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
  });
}
