import {
  AsmError,
  type ErrorCode,
  errorCodeForHttpStatus,
  getConfig,
  normalizeProviderError,
  type ProviderErrorKind,
} from '@asm/core';

/** What an error message (or status, or error code) means in the taxonomy. */
export interface CodexErrorClassification {
  code: ErrorCode;
  kind: ProviderErrorKind;
  /** HTTP status quoted in the message (`last status: 429`, `unexpected status 401`). */
  status?: number;
  /** Request id quoted in the message (`request id: req_…`). */
  requestId?: string;
  /** Seconds to wait, from "try again in 7s". */
  retryAfterSeconds?: number;
}

const QUOTA =
  /insufficient_quota|exceeded your current quota|quota exceeded|billing|usage limit|purchase more credits/i;
const RATE_LIMIT = /\b429\b|rate[\s_-]?limit|too many requests/i;
const AUTH =
  /\b40[13]\b|unauthori[sz]ed|forbidden|invalid[\s_-]api[\s_-]key|incorrect api key|authentication|not logged in|please (log|sign) in|missing (an )?api key|no api key/i;
const TIMEOUT = /timed?[\s_-]?out|timeout|deadline exceeded/i;
const UNAVAILABLE =
  /\b5\d\d\b|overloaded|unavailable|server[\s_]error|server had an error|stream disconnected|disconnected before completion|connection (refused|reset|closed)|error sending request|bad gateway|internal server error|reconnecting|network error|dns error|failed to connect/i;
const BAD_REQUEST =
  /\b4(00|04|13|22)\b|bad request|invalid_request|invalid value|invalid parameter|context[\s_]length|context window|maximum context|unsupported|not supported|does not exist|model[\s_]not[\s_]found|invalid model|invalid_prompt/i;
const PARSE = /failed to parse|unexpected token|not valid json|json parse/i;

function firstNumber(pattern: RegExp, text: string): number | undefined {
  const match = pattern.exec(text);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

/**
 * Classifies a Codex CLI error from its text alone (Codex errors carry only messages, no status
 * field; spec provider-sdks §3). In order: a quoted HTTP status (`last status: 429`, `unexpected
 * status 401`) decides; else quota → `provider_quota_exceeded`, rate limit / 429 →
 * `provider_rate_limited`, 401 / 403 / bad key → `provider_authentication_failed`, timeouts →
 * `provider_timeout`, 5xx / overloaded / dropped streams → `provider_unavailable`, bad requests
 * (400, unknown model, context length) → `provider_error` (kind `bad_request`), unparsable output →
 * `provider_error` (kind `parse_error`). Anything else is `provider_error` (kind `unknown`), the safe
 * default for messages Codex adds later.
 */
export function classifyCodexError(message: string): CodexErrorClassification {
  const text = message ?? '';
  const status = firstNumber(/(?:status:?|status code:?|unexpected status|HTTP)\s*(\d{3})\b/i, text);
  const requestIdMatch = /request[\s_-]?id:?\s*([\w-]+)/i.exec(text);
  const retryAfter = firstNumber(/try again in (\d+(?:\.\d+)?)\s*s/i, text);
  const extra: Partial<CodexErrorClassification> = {};
  if (status !== undefined) extra.status = status;
  if (requestIdMatch?.[1] !== undefined) extra.requestId = requestIdMatch[1];
  if (retryAfter !== undefined) extra.retryAfterSeconds = Math.ceil(retryAfter);

  if (QUOTA.test(text)) return { code: 'provider_quota_exceeded', kind: 'quota', ...extra };
  if (status !== undefined) {
    const code = errorCodeForHttpStatus(status);
    return { code, kind: kindForCode(code, status), ...extra };
  }
  if (RATE_LIMIT.test(text)) return { code: 'provider_rate_limited', kind: 'rate_limit', ...extra };
  if (AUTH.test(text)) return { code: 'provider_authentication_failed', kind: 'authentication', ...extra };
  if (PARSE.test(text)) return { code: 'provider_error', kind: 'parse_error', ...extra };
  if (TIMEOUT.test(text)) return { code: 'provider_timeout', kind: 'timeout', ...extra };
  if (UNAVAILABLE.test(text)) return { code: 'provider_unavailable', kind: 'unavailable', ...extra };
  if (BAD_REQUEST.test(text)) return { code: 'provider_error', kind: 'bad_request', ...extra };
  if (/exited with|exit (code|status)/i.test(text))
    return { code: 'provider_error', kind: 'transport_exit', ...extra };
  return { code: 'provider_error', kind: 'unknown', ...extra };
}

function kindForCode(code: ErrorCode, status?: number): ProviderErrorKind {
  switch (code) {
    case 'provider_rate_limited':
      return 'rate_limit';
    case 'provider_authentication_failed':
      return 'authentication';
    case 'provider_quota_exceeded':
      return 'quota';
    case 'provider_timeout':
      return 'timeout';
    case 'provider_unavailable':
      return status === 529 || status === 503 ? 'overloaded' : 'unavailable';
    default:
      return status !== undefined && status >= 400 && status < 500 ? 'bad_request' : 'http_error';
  }
}

/** Fields of the `providerError` an adapter builds. */
export interface ProviderErrorFacts {
  kind?: ProviderErrorKind;
  status?: number;
  exitCode?: number;
  stderr?: string;
  requestId?: string;
  retryAfterSeconds?: number;
}

/**
 * An `AsmError` with `providerError` filled in: stderr cut to `errorTextMaxBytes` /
 * `errorTextMaxLines`, `details.retryAfterSeconds` when the provider asked to wait.
 */
export function providerFailure(
  provider: string,
  code: ErrorCode,
  message: string,
  facts: ProviderErrorFacts = {},
  cause?: unknown,
): AsmError {
  const providerError = normalizeProviderError(
    provider,
    {
      kind: facts.kind ?? kindForCode(code, facts.status),
      message,
      ...(facts.status !== undefined ? { status: facts.status } : {}),
      ...(facts.exitCode !== undefined ? { exitCode: facts.exitCode } : {}),
      ...(facts.stderr !== undefined && facts.stderr !== '' ? { stderr: facts.stderr } : {}),
      ...(facts.requestId !== undefined ? { requestId: facts.requestId } : {}),
      ...(facts.retryAfterSeconds !== undefined ? { retryAfterSeconds: facts.retryAfterSeconds } : {}),
    },
    { maxBytes: getConfig('errorTextMaxBytes'), maxLines: getConfig('errorTextMaxLines') },
  );
  const details: Record<string, unknown> = { provider };
  if (facts.retryAfterSeconds !== undefined) details.retryAfterSeconds = facts.retryAfterSeconds;
  return new AsmError(code, message, {
    details,
    providerError,
    ...(cause === undefined ? {} : { cause }),
  });
}

/** Builds the classified `AsmError` for a Codex CLI failure message. */
export function codexFailure(
  provider: string,
  message: string,
  facts: { exitCode?: number; stderr?: string } = {},
  cause?: unknown,
): AsmError {
  const classification = classifyCodexError(message);
  const { code, ...rest } = classification;
  return providerFailure(provider, code, message, { ...rest, ...facts }, cause);
}

/**
 * Classifies an error `code` of the Responses API (`response.failed`'s `error.code`, the `error`
 * event's `code`), falling back to the message text.
 */
export function classifyResponsesErrorCode(
  code: string | undefined,
  message: string,
): CodexErrorClassification {
  switch (code) {
    case 'rate_limit_exceeded':
      return { code: 'provider_rate_limited', kind: 'rate_limit' };
    case 'insufficient_quota':
      return { code: 'provider_quota_exceeded', kind: 'quota' };
    case 'server_error':
    case 'server_is_overloaded':
    case 'slow_down':
      return { code: 'provider_unavailable', kind: 'unavailable' };
    case 'invalid_api_key':
      return { code: 'provider_authentication_failed', kind: 'authentication' };
    case 'invalid_prompt':
    case 'context_length_exceeded':
    case 'invalid_request_error':
    case 'model_not_found':
      return { code: 'provider_error', kind: 'bad_request' };
    default:
      return classifyCodexError(`${code ?? ''} ${message}`);
  }
}

/** Seconds from a `retry-after` / `retry-after-ms` header pair. */
export function retryAfterSeconds(headers: Headers | undefined): number | undefined {
  if (!headers) return undefined;
  const milliseconds = Number(headers.get('retry-after-ms'));
  if (Number.isFinite(milliseconds) && milliseconds > 0) return Math.ceil(milliseconds / 1000);
  const value = headers.get('retry-after');
  if (value === null) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.ceil(seconds);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}
