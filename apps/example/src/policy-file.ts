import { readFile } from 'node:fs/promises';
import { AsmError } from '@asm/core';
import type { Policy } from '@asm/policy';
import { CliError, EXIT } from './exit-codes.js';

/**
 * Reads a `--policy` file: a JSON object in the shape of `definePolicy` from `@asm/policy`
 * (`{ name, limits: { maxTotalTokens, maxInputTokens, maxOutputTokens, maxDurationMs, maxToolCalls,
 * maxCostUsd }, tools: { allow, deny }, onViolation: 'cancel' | 'warn' | 'requestApproval', metadata }`),
 * or an array of them, stacked left to right (`stackPolicies`). A file that cannot be read or
 * parsed, or a policy that does not validate, is a configuration error (exit code 3) naming the field.
 */
export async function loadPolicyFile(path: string): Promise<Policy> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new CliError(
      EXIT.config,
      `Cannot read the policy file ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
    );
  }
  let input: unknown;
  try {
    input = JSON.parse(text);
  } catch (error) {
    throw new CliError(EXIT.config, `The policy file ${path} is not valid JSON: ${(error as Error).message}`);
  }
  const { definePolicy, stackPolicies } = await import('@asm/policy');
  try {
    if (Array.isArray(input)) {
      if (input.length === 0) throw new CliError(EXIT.config, `The policy file ${path} holds an empty list`);
      return stackPolicies(...(input as Parameters<typeof stackPolicies>));
    }
    return definePolicy(input as Parameters<typeof definePolicy>[0]);
  } catch (error) {
    if (error instanceof CliError) throw error;
    if (AsmError.isInstance(error)) {
      const field = typeof error.details?.field === 'string' ? ` (field ${error.details.field})` : '';
      throw new CliError(EXIT.config, `Invalid policy in ${path}${field}: ${error.message}`);
    }
    throw error;
  }
}

/** One line describing a policy: `demo-budget: maxDurationMs 1000; deny bash; on violation cancel`. */
export function describePolicy(policy: Policy): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(policy.limits)) parts.push(`${key} ${String(value)}`);
  for (const rule of policy.toolRules) parts.push(`${rule.effect} ${rule.tools.join(', ')}`);
  parts.push(`on violation ${policy.onViolation}`);
  return `${policy.name}: ${parts.join('; ')}`;
}
