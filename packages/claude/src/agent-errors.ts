import {
  AsmError,
  type ErrorCode,
  errorCodeForHttpStatus,
  normalizeProviderError,
  type ProviderErrorKind,
} from '@asm/core';
import type { ClaudeAgentApiFailure } from './agent-event-mapper.js';
import { kindForStatus, mapAnthropicErrorType } from './claude-errors.js';

/**
 * The assistant message's `error` (`SDKAssistantMessageError` of the SDK) → code and kind, for a
 * failure that came without an HTTP status or API error type. Unknown values are `provider_error`.
 */
export function mapClaudeAgentAssistantError(error: string | undefined): {
  code: ErrorCode;
  kind: ProviderErrorKind;
} {
  switch (error) {
    case 'authentication_failed':
    case 'oauth_org_not_allowed':
    case 'verification_required':
    case 'cloud_credential_error':
      return { code: 'provider_authentication_failed', kind: 'authentication' };
    case 'billing_error':
    case 'account_on_hold':
      return { code: 'provider_quota_exceeded', kind: 'billing' };
    case 'rate_limit':
      return { code: 'provider_rate_limited', kind: 'rate_limit' };
    case 'overloaded':
      return { code: 'provider_unavailable', kind: 'overloaded' };
    case 'server_error':
      return { code: 'provider_unavailable', kind: 'api_error' };
    default:
      return { code: 'provider_error', kind: error ? 'api_error' : 'unknown' };
  }
}

/**
 * The `AsmError` of an API failure Claude Code reported, mapped from its fields and never from its
 * text: `api_error_status` first (401/403 `provider_authentication_failed`, 429
 * `provider_rate_limited`, 5xx and 529 `provider_unavailable`, …), then `api_error_type` (as the
 * Messages backend maps it), then `api_error` (`connection_failed`: a dropped or truncated stream,
 * `provider_unavailable`), then the assistant message's `error`.
 */
export function claudeAgentApiError(provider: string, failure: ClaudeAgentApiFailure): AsmError {
  let code: ErrorCode;
  let kind: ProviderErrorKind;
  if (failure.status !== undefined) {
    code = errorCodeForHttpStatus(failure.status);
    kind = kindForStatus(failure.status);
  } else if (failure.errorType !== undefined) {
    ({ code, kind } = mapAnthropicErrorType(failure.errorType));
  } else if (failure.apiError !== undefined) {
    code = failure.apiError === 'connection_failed' ? 'provider_unavailable' : 'provider_error';
    kind = failure.apiError === 'connection_failed' ? 'connection_error' : 'api_error';
  } else {
    ({ code, kind } = mapClaudeAgentAssistantError(failure.error));
  }
  const message = failure.message ?? `Claude Code reported an API error (${failure.error ?? kind})`;
  const providerError = normalizeProviderError(provider, {
    kind,
    message,
    ...(failure.status === undefined ? {} : { status: failure.status }),
    ...(failure.requestId === undefined ? {} : { requestId: failure.requestId }),
  });
  const details: Record<string, unknown> = {};
  if (failure.status !== undefined) details.status = failure.status;
  if (failure.errorType !== undefined) details.errorType = failure.errorType;
  if (failure.apiError !== undefined) details.apiError = failure.apiError;
  if (failure.error !== undefined) details.error = failure.error;
  if (failure.requestId !== undefined) details.requestId = failure.requestId;
  return new AsmError(code, message, { details, providerError });
}

/** A run that ended with an error `result` that is not an API failure (`error_during_execution`, …). */
export function claudeAgentResultError(
  provider: string,
  subtype: string,
  errors: readonly string[],
  details: Record<string, unknown> = {},
): AsmError {
  const message =
    errors.length > 0 ? `Claude Code: ${errors.join('; ')}` : `Claude Code ended the run with ${subtype}`;
  return new AsmError('provider_error', message, {
    details: { subtype, ...details },
    providerError: normalizeProviderError(provider, { kind: 'protocol_error', message }),
  });
}

/** The `claude` process ended (or could not start) without a `result`. */
export function claudeAgentProcessError(
  provider: string,
  facts: {
    message: string;
    exitCode?: number | null;
    signal?: string | null;
    stderr?: string;
    /** The executable does not exist: `dependency_not_available` naming it. */
    notFound?: { dependency: string };
    cause?: unknown;
  },
): AsmError {
  const kind: ProviderErrorKind = facts.notFound ? 'cli_not_found' : 'process_error';
  const providerError = normalizeProviderError(provider, {
    kind,
    message: facts.message,
    ...(typeof facts.exitCode === 'number' ? { exitCode: facts.exitCode } : {}),
    ...(facts.stderr ? { stderr: facts.stderr } : {}),
  });
  const details: Record<string, unknown> = facts.notFound
    ? { dependency: facts.notFound.dependency, operation: 'execute' }
    : {};
  if (facts.exitCode !== undefined && facts.exitCode !== null) details.exitCode = facts.exitCode;
  if (facts.signal) details.signal = facts.signal;
  return new AsmError(facts.notFound ? 'dependency_not_available' : 'provider_error', facts.message, {
    details,
    providerError,
    ...(facts.cause === undefined ? {} : { cause: facts.cause }),
  });
}
