import { AsmError, createInMemoryStore, createSessionManager } from '@asm/core';
import { createMockProvider } from '@asm/testing/fakes';
import { describe, expect, it } from 'vitest';
import { createPolicyExtension, type PolicyViolation } from '../src/index.js';

describe('createPolicyExtension', () => {
  it('keeps separate state per run when installed on the manager', async () => {
    const seen: PolicyViolation[] = [];
    const extension = createPolicyExtension(
      { name: 'shared', limits: { maxOutputTokens: 10 }, onViolation: 'warn' },
      { retainReports: 1, onViolation: (violation) => seen.push(violation) },
    );
    const provider = createMockProvider({ tokenUsage: { inputTokens: 1, outputTokens: 11 } });
    const manager = createSessionManager({ store: createInMemoryStore(), provider, extensions: [extension] });
    const first = await manager.runOnce('one');
    provider.configure({ tokenUsage: { inputTokens: 1, outputTokens: 10 } });
    const second = await manager.runOnce('two');
    expect(extension.name).toBe('policy:shared');
    expect(seen.map((violation) => violation.runId)).toEqual([first.runId]);
    expect(second.metadata.policy).toBeUndefined();
    // Only the last finished report is kept with retainReports: 1.
    expect(extension.report(first.runId)).toBeUndefined();
    expect(extension.report(second.runId)).toMatchObject({ violated: false, usage: { outputTokens: 10 } });
    expect(extension.lastReport?.runId).toBe(second.runId);
  });

  it('accepts a list of policies and stacks them', () => {
    const extension = createPolicyExtension([{ name: 'a', onViolation: 'warn' }, { name: 'b' }]);
    expect(extension.policy).toMatchObject({ name: 'a + b', onViolation: 'cancel' });
  });

  it('validates its options and the policy eagerly', () => {
    const codeOf = (run: () => unknown) => {
      try {
        run();
      } catch (error) {
        return AsmError.isInstance(error) ? [error.code, error.details.field] : error;
      }
      return undefined;
    };
    expect(codeOf(() => createPolicyExtension({}, { retainReports: -1 }))).toEqual([
      'validation_error',
      'retainReports',
    ]);
    expect(codeOf(() => createPolicyExtension({}, { metadataKey: '' }))).toEqual([
      'validation_error',
      'metadataKey',
    ]);
    expect(codeOf(() => createPolicyExtension({ limits: { maxToolCalls: 1.5 } }))).toEqual([
      'validation_error',
      'limits.maxToolCalls',
    ]);
  });

  it('can keep the summary out of the run metadata', async () => {
    const extension = createPolicyExtension(
      { limits: { maxOutputTokens: 1 }, onViolation: 'warn' },
      { metadataKey: false },
    );
    const provider = createMockProvider({ tokenUsage: { outputTokens: 2 } });
    const manager = createSessionManager({ store: createInMemoryStore(), provider });
    const result = await manager.runOnce('hi', { extensions: [extension] });
    expect(result.metadata.policy).toBeUndefined();
    expect(extension.report(result.runId)?.violations).toHaveLength(1);
  });
});
