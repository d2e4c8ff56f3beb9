import {
  AsmError,
  type ErrorCode,
  getConfig,
  normalizeProviderError,
  type ProviderErrorInfo,
  type ProviderErrorKind,
} from '@asm/core';

/** An error code with the provider error kind that goes with it. */
export interface AmpErrorClass {
  code: ErrorCode;
  kind: ProviderErrorKind;
}

const RULES: ReadonlyArray<{ pattern: RegExp; code: ErrorCode; kind: ProviderErrorKind }> = [
  { pattern: /rate.?limit|too many requests|\b429\b/i, code: 'provider_rate_limited', kind: 'rate_limit' },
  {
    pattern: /insufficient (credits|balance|funds)|out of credits|no credits|quota|\b402\b|payment required/i,
    code: 'provider_quota_exceeded',
    kind: 'quota',
  },
  {
    pattern:
      /api key|unauthori[sz]ed|authenticat|\b401\b|\b403\b|forbidden|not logged in|log ?in (is )?required/i,
    code: 'provider_authentication_failed',
    kind: 'authentication',
  },
  {
    pattern: /timed? ?out|timeout|ETIMEDOUT|deadline exceeded/i,
    code: 'provider_timeout',
    kind: 'timeout',
  },
  {
    pattern:
      /overloaded|unavailable|\b50[0234]\b|bad gateway|internal server error|ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|could ?n[o']?t connect|network error|socket hang up/i,
    code: 'provider_unavailable',
    kind: 'unavailable',
  },
];

/**
 * Classifies an Amp failure from its text (a `result` error, or the CLI's stderr): rate limits,
 * exhausted credits, authentication, timeouts and an unreachable service get their own codes;
 * anything else is `provider_error` with `fallbackKind`. Amp reports no status codes in stream-json,
 * so the text is all there is; unknown wording falls back safely to `provider_error`.
 */
export function classifyAmpError(text: string, fallbackKind: ProviderErrorKind = 'unknown'): AmpErrorClass {
  for (const rule of RULES) {
    if (rule.pattern.test(text)) return { code: rule.code, kind: rule.kind };
  }
  return { code: 'provider_error', kind: fallbackKind };
}

/** Facts of a failed CLI run that go into `providerError`. */
export interface AmpFailureFacts {
  provider: string;
  kind: ProviderErrorKind;
  message: string;
  exitCode?: number | null;
  stderr?: string;
  stderrTruncated?: boolean;
}

/** Builds the `providerError` of an Amp failure: exit code and stderr cut to the configured limits. */
export function ampProviderError(facts: AmpFailureFacts): ProviderErrorInfo {
  const info = normalizeProviderError(
    facts.provider,
    {
      kind: facts.kind,
      message: facts.message,
      ...(facts.exitCode === undefined || facts.exitCode === null ? {} : { exitCode: facts.exitCode }),
      ...(facts.stderr ? { stderr: facts.stderr } : {}),
    },
    { maxBytes: getConfig('errorTextMaxBytes'), maxLines: getConfig('errorTextMaxLines') },
  );
  if (facts.stderrTruncated && info.stderr !== undefined) info.truncated = true;
  return info;
}

/** An `AsmError` for an Amp failure, with its `providerError`. */
export function ampError(
  code: ErrorCode,
  facts: AmpFailureFacts,
  details: Record<string, unknown> = {},
  cause?: unknown,
): AsmError {
  return new AsmError(code, facts.message, {
    providerError: ampProviderError(facts),
    details,
    ...(cause === undefined ? {} : { cause }),
  });
}
