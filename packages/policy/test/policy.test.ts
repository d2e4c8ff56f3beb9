import { AsmError } from '@asm/core';
import { describe, expect, it } from 'vitest';
import {
  checkToolCall,
  compilePolicy,
  definePolicy,
  isPolicy,
  LIMIT_KEYS,
  preflightPolicy,
  stackPolicies,
} from '../src/index.js';

function fieldOf(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    expect(AsmError.isInstance(error)).toBe(true);
    expect((error as AsmError).code).toBe('validation_error');
    return (error as AsmError).details.field;
  }
  throw new Error('expected a validation_error');
}

describe('definePolicy', () => {
  it('applies the defaults', () => {
    const policy = definePolicy();
    expect(policy).toEqual({
      name: 'default',
      limits: {},
      toolRules: [],
      onViolation: 'cancel',
      metadata: {},
    });
    expect(isPolicy(policy)).toBe(true);
    expect(Object.isFrozen(policy)).toBe(true);
    expect(Object.isFrozen(policy.limits)).toBe(true);
  });

  it('keeps limits, tool rules (de-duplicated), action and metadata', () => {
    const policy = definePolicy({
      name: 'team',
      limits: { maxTotalTokens: 1000, maxCostUsd: 0.5, maxDurationMs: 0 },
      tools: { allow: ['read', 'mcp:github:*', 'read'], deny: ['mcp:github:delete_*'] },
      onViolation: 'warn',
      metadata: { owner: 'ops' },
    });
    expect(policy.limits).toEqual({ maxTotalTokens: 1000, maxCostUsd: 0.5, maxDurationMs: 0 });
    expect(policy.toolRules).toEqual([
      { effect: 'allow', tools: ['read', 'mcp:github:*'], policy: 'team' },
      { effect: 'deny', tools: ['mcp:github:delete_*'], policy: 'team' },
    ]);
    expect(policy.onViolation).toBe('warn');
    expect(policy.metadata).toEqual({ owner: 'ops' });
  });

  it('returns a defined policy as it is', () => {
    const policy = definePolicy({ name: 'x' });
    expect(definePolicy(policy)).toBe(policy);
  });

  it('rejects invalid policies with validation_error naming the field', () => {
    expect(fieldOf(() => definePolicy({ name: '' }))).toBe('name');
    expect(fieldOf(() => definePolicy({ name: 3 as unknown as string }))).toBe('name');
    expect(fieldOf(() => definePolicy({ limits: { maxTotalTokens: -1 } }))).toBe('limits.maxTotalTokens');
    expect(fieldOf(() => definePolicy({ limits: { maxInputTokens: 1.5 } }))).toBe('limits.maxInputTokens');
    expect(fieldOf(() => definePolicy({ limits: { maxOutputTokens: Number.NaN } }))).toBe(
      'limits.maxOutputTokens',
    );
    expect(fieldOf(() => definePolicy({ limits: { maxDurationMs: '5' as unknown as number } }))).toBe(
      'limits.maxDurationMs',
    );
    expect(fieldOf(() => definePolicy({ limits: { maxToolCalls: -2 } }))).toBe('limits.maxToolCalls');
    expect(fieldOf(() => definePolicy({ limits: { maxCostUsd: Number.POSITIVE_INFINITY } }))).toBe(
      'limits.maxCostUsd',
    );
    expect(fieldOf(() => definePolicy({ limits: { maxTurns: 3 } as never }))).toBe('limits.maxTurns');
    expect(fieldOf(() => definePolicy({ limits: [] as never }))).toBe('limits');
    expect(fieldOf(() => definePolicy({ tools: { allow: 'bash' as never } }))).toBe('tools.allow');
    expect(fieldOf(() => definePolicy({ tools: { deny: ['ok', ''] } }))).toBe('tools.deny[1]');
    expect(fieldOf(() => definePolicy({ tools: { deny: ['ok', 7 as never] } }))).toBe('tools.deny[1]');
    expect(fieldOf(() => definePolicy({ tools: { block: [] } as never }))).toBe('tools.block');
    expect(fieldOf(() => definePolicy({ onViolation: 'explode' as never }))).toBe('onViolation');
    expect(fieldOf(() => definePolicy({ metadata: [] as never }))).toBe('metadata');
    expect(fieldOf(() => definePolicy({ limit: {} } as never))).toBe('limit');
  });

  it('accepts maxCostUsd as a fraction', () => {
    expect(definePolicy({ limits: { maxCostUsd: 0.0125 } }).limits.maxCostUsd).toBe(0.0125);
  });
});

describe('stackPolicies', () => {
  const org = definePolicy({
    name: 'org',
    limits: { maxTotalTokens: 10_000, maxDurationMs: 60_000 },
    tools: { deny: ['shell'] },
    onViolation: 'warn',
    metadata: { owner: { team: 'platform', contact: 'a@x' }, tags: ['org'] },
  });
  const team = definePolicy({
    name: 'team',
    limits: { maxTotalTokens: 2_000, maxCostUsd: 1 },
    tools: { allow: ['mcp:github:*'] },
    onViolation: 'requestApproval',
    metadata: { owner: { contact: 'b@x' }, tags: ['team'] },
  });
  const run = { name: 'run', limits: { maxToolCalls: 5 }, onViolation: 'cancel' as const };

  it('merges left to right: later limits win, rules concatenate, strictest action, deep metadata', () => {
    const stacked = stackPolicies(org, team, run);
    expect(stacked.name).toBe('org + team + run');
    expect(stacked.limits).toEqual({
      maxTotalTokens: 2_000,
      maxDurationMs: 60_000,
      maxCostUsd: 1,
      maxToolCalls: 5,
    });
    expect(stacked.toolRules).toEqual([
      { effect: 'deny', tools: ['shell'], policy: 'org' },
      { effect: 'allow', tools: ['mcp:github:*'], policy: 'team' },
    ]);
    expect(stacked.onViolation).toBe('cancel');
    expect(stacked.metadata).toEqual({ owner: { team: 'platform', contact: 'b@x' }, tags: ['team'] });
    expect(org.metadata).toEqual({ owner: { team: 'platform', contact: 'a@x' }, tags: ['org'] });
  });

  it('takes requestApproval over warn', () => {
    expect(stackPolicies(org, team).onViolation).toBe('requestApproval');
    expect(stackPolicies(team, org).onViolation).toBe('requestApproval');
  });

  it('gives the default policy for none and the policy itself for one', () => {
    expect(stackPolicies().name).toBe('default');
    expect(stackPolicies(org)).toBe(org);
  });

  it('does not repeat equal names', () => {
    expect(stackPolicies({ name: 'a' }, { name: 'a' }, { name: 'b' }).name).toBe('a + b');
  });

  it('names the position of an invalid input', () => {
    try {
      stackPolicies(org, { limits: { maxToolCalls: -1 } });
      throw new Error('expected a throw');
    } catch (error) {
      expect((error as AsmError).code).toBe('validation_error');
      expect((error as AsmError).details).toMatchObject({ field: 'limits.maxToolCalls', index: 1 });
    }
  });
});

describe('checkToolCall', () => {
  const policy = definePolicy({
    name: 'p',
    tools: { allow: ['read_file', 'mcp:github:*'], deny: ['mcp:github:delete_*'] },
  });

  it('allows exact names and glob matches', () => {
    expect(checkToolCall(policy, 'read_file')).toEqual({ allowed: true });
    expect(checkToolCall(policy, 'mcp:github:list_issues')).toEqual({ allowed: true });
  });

  it('lets deny win over allow', () => {
    expect(checkToolCall(policy, 'mcp:github:delete_repo')).toMatchObject({
      allowed: false,
      rule: 'deny',
      patterns: ['mcp:github:delete_*'],
      policy: 'p',
    });
  });

  it('refuses a tool missing from the allow list', () => {
    expect(checkToolCall(policy, 'bash')).toMatchObject({ allowed: false, rule: 'allow' });
    expect(checkToolCall(policy, 'mcp:gitlab:list')).toMatchObject({ allowed: false, rule: 'allow' });
  });

  it('intersects stacked allow lists', () => {
    const stacked = stackPolicies({ tools: { allow: ['a', 'b'] } }, { tools: { allow: ['b', 'c'] } });
    expect(checkToolCall(stacked, 'b').allowed).toBe(true);
    expect(checkToolCall(stacked, 'a').allowed).toBe(false);
    expect(checkToolCall(stacked, 'c').allowed).toBe(false);
  });

  it('allows everything without rules', () => {
    expect(checkToolCall(definePolicy(), 'anything').allowed).toBe(true);
  });
});

describe('preflightPolicy', () => {
  it('passes a runnable policy', () => {
    expect(preflightPolicy(definePolicy({ limits: { maxTotalTokens: 1 }, tools: { allow: ['a'] } }))).toEqual(
      [],
    );
  });

  it('finds an empty allow list', () => {
    expect(preflightPolicy(definePolicy({ name: 'x', tools: { allow: [] } }))).toEqual([
      { check: 'empty_allow_list', policy: 'x' },
    ]);
  });

  it('finds every zero budget', () => {
    for (const key of LIMIT_KEYS) {
      expect(preflightPolicy(definePolicy({ limits: { [key]: 0 } }))).toEqual([
        { check: 'zero_budget', limits: [key] },
      ]);
    }
    const all = Object.fromEntries(LIMIT_KEYS.map((key) => [key, 0]));
    expect(preflightPolicy(definePolicy({ limits: all }))).toEqual([
      { check: 'zero_budget', limits: [...LIMIT_KEYS] },
    ]);
  });

  it('finds tools both allowed and denied, globs included, but not a narrowing deny', () => {
    expect(preflightPolicy(definePolicy({ tools: { allow: ['bash', 'read'], deny: ['bash'] } }))).toEqual([
      { check: 'contradictory_rules', tools: ['bash'] },
    ]);
    expect(preflightPolicy(definePolicy({ tools: { allow: ['mcp:github:*'], deny: ['mcp:*'] } }))).toEqual([
      { check: 'contradictory_rules', tools: ['mcp:github:*'] },
    ]);
    expect(
      preflightPolicy(definePolicy({ tools: { allow: ['mcp:github:*'], deny: ['mcp:github:delete'] } })),
    ).toEqual([]);
    const stacked = stackPolicies({ tools: { allow: ['bash'] } }, { tools: { deny: ['bash'] } });
    expect(preflightPolicy(stacked)).toEqual([{ check: 'contradictory_rules', tools: ['bash'] }]);
  });
});

describe('compilePolicy', () => {
  it('compiles nothing for an empty policy', () => {
    expect(compilePolicy(definePolicy())).toEqual({});
  });

  it('compiles allow and deny lists and caps maxOutputTokens by the token budgets', () => {
    const policy = definePolicy({
      tools: { allow: ['read', 'mcp:github:*'], deny: ['mcp:github:delete_*'] },
      limits: { maxTotalTokens: 4_000, maxOutputTokens: 8_000 },
    });
    expect(compilePolicy(policy)).toEqual({
      toolRules: { allow: ['read', 'mcp:github:*'], deny: ['mcp:github:delete_*'] },
      maxOutputTokens: 4_000,
    });
    expect(compilePolicy(definePolicy({ limits: { maxOutputTokens: 500 } }))).toEqual({
      maxOutputTokens: 500,
    });
  });

  it('intersects stacked allow lists, globs covered by a broader glob included', () => {
    const stacked = stackPolicies(
      { tools: { allow: ['mcp:*', 'read'], deny: ['a'] } },
      { tools: { allow: ['mcp:github:*', 'write'], deny: ['b', 'a'] } },
    );
    expect(compilePolicy(stacked).toolRules).toEqual({ allow: ['mcp:github:*'], deny: ['a', 'b'] });
  });

  it('compiles no tool rules for requestApproval (the gate must see those calls)', () => {
    const policy = definePolicy({
      tools: { deny: ['bash'] },
      onViolation: 'requestApproval',
      limits: { maxTotalTokens: 9 },
    });
    expect(compilePolicy(policy)).toEqual({ maxOutputTokens: 9 });
  });
});
