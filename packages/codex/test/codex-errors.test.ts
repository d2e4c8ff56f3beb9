import { describe, expect, it } from 'vitest';
import {
  classifyCodexError,
  classifyResponsesErrorCode,
  mapCodexPermissionMode,
  mapIncompleteReason,
  toTokenUsage,
  usageDelta,
} from '../src/index.js';

describe('classifyCodexError', () => {
  it.each([
    ['exceeded retry limit, last status: 429 Too Many Requests, request id: req_1', 'provider_rate_limited'],
    [
      'Rate limit reached for gpt-5 in organization org-x. Please try again in 1.5s.',
      'provider_rate_limited',
    ],
    [
      'unexpected status 401 Unauthorized: Incorrect API key provided, url: http://127.0.0.1/v1/responses',
      'provider_authentication_failed',
    ],
    ['Error: Not logged in. Run `codex login`', 'provider_authentication_failed'],
    [
      'You exceeded your current quota, please check your plan and billing details.',
      'provider_quota_exceeded',
    ],
    [
      'stream disconnected before completion: The server had an error while processing your request.',
      'provider_unavailable',
    ],
    ['stream disconnected before completion: error sending request', 'provider_unavailable'],
    ['unexpected status 503 Service Unavailable', 'provider_unavailable'],
    [
      'Reconnecting... 2/5 (stream disconnected before completion: idle timeout waiting for SSE)',
      'provider_timeout',
    ],
    ['request timed out', 'provider_timeout'],
    ['unexpected status 400 Bad Request: Invalid value for input', 'provider_error'],
    ['The model `gpt-9` does not exist or you do not have access to it.', 'provider_error'],
    ['Failed to parse item: garbage', 'provider_error'],
    ['something nobody has seen before', 'provider_error'],
  ])('%s → %s', (message, code) => {
    expect(classifyCodexError(message).code).toBe(code);
  });

  it('reads the status, the request id and the wait from the text', () => {
    expect(
      classifyCodexError('exceeded retry limit, last status: 429 Too Many Requests, request id: req_fake_6'),
    ).toEqual({ code: 'provider_rate_limited', kind: 'rate_limit', status: 429, requestId: 'req_fake_6' });
    expect(classifyCodexError('Rate limit reached. Please try again in 6.2s.').retryAfterSeconds).toBe(7);
    expect(classifyCodexError('Failed to parse item: x').kind).toBe('parse_error');
    expect(classifyCodexError('anything').kind).toBe('unknown');
  });
});

describe('classifyResponsesErrorCode', () => {
  it('maps API error codes, falling back to the text', () => {
    expect(classifyResponsesErrorCode('rate_limit_exceeded', 'x').code).toBe('provider_rate_limited');
    expect(classifyResponsesErrorCode('insufficient_quota', 'x').code).toBe('provider_quota_exceeded');
    expect(classifyResponsesErrorCode('server_error', 'x').code).toBe('provider_unavailable');
    expect(classifyResponsesErrorCode('context_length_exceeded', 'x').code).toBe('provider_error');
    expect(classifyResponsesErrorCode('brand_new_code', 'The server is overloaded').code).toBe(
      'provider_unavailable',
    );
  });
});

describe('usage', () => {
  const thread = (input: number, cached: number, output: number) => ({
    inputTokens: input,
    cachedInputTokens: cached,
    cacheWriteInputTokens: 0,
    outputTokens: output,
    reasoningOutputTokens: 0,
  });

  it('usageDelta - subtracts the previous cumulative usage, never below zero', () => {
    expect(usageDelta(thread(600, 300, 90), thread(400, 200, 60))).toEqual(thread(200, 100, 30));
    expect(usageDelta(thread(100, 0, 10), thread(400, 200, 60))).toEqual(thread(0, 0, 0));
    expect(usageDelta(thread(100, 0, 10), undefined)).toEqual(thread(100, 0, 10));
  });

  it('toTokenUsage - bills cached tokens once, as cache reads', () => {
    expect(
      toTokenUsage({
        inputTokens: 1000,
        cachedInputTokens: 800,
        cacheWriteInputTokens: 100,
        outputTokens: 50,
      }),
    ).toEqual({
      inputTokens: 100,
      cacheReadTokens: 800,
      cacheWriteTokens: 100,
      outputTokens: 50,
      totalTokens: 1050,
    });
  });
});

describe('mappings', () => {
  it('mapCodexPermissionMode - every mode', () => {
    expect(mapCodexPermissionMode('default')).toEqual({});
    expect(mapCodexPermissionMode('full_auto')).toEqual({
      sandboxMode: 'workspace-write',
      approvalPolicy: 'never',
    });
    expect(mapCodexPermissionMode('dangerously_skip_permissions')).toEqual({
      sandboxMode: 'danger-full-access',
      approvalPolicy: 'never',
    });
    expect(mapCodexPermissionMode('plan')).toMatchObject({
      sandboxMode: 'read-only',
      warning: expect.any(String),
    });
    expect(mapCodexPermissionMode('accept_edits')).toEqual({ warning: expect.any(String) });
  });

  it('mapIncompleteReason - max_output_tokens is max_tokens; others pass through', () => {
    expect(mapIncompleteReason('max_output_tokens')).toBe('max_tokens');
    expect(mapIncompleteReason('content_filter')).toBe('content_filter');
    expect(mapIncompleteReason(undefined)).toBe('incomplete');
  });
});
