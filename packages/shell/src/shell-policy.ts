import { AsmError } from '@asm/core';
import { commandBasename, commandNames, type ShellInvocation } from './shell-input.js';

/** Allow and deny lists of command basenames. `allowed` undefined means every command is allowed. */
export interface CommandRules {
  allowed?: readonly string[];
  denied?: readonly string[];
}

/** The command names an invocation starts: every command of a command line, or the executable. */
export function invocationCommandNames(invocation: ShellInvocation): string[] {
  return invocation.mode === 'shell'
    ? commandNames(invocation.command)
    : [commandBasename(invocation.command)];
}

/**
 * Checks an invocation against the lists (PROV-shell-allowdeny): names are compared by basename, the
 * deny list wins over the allow list. Returns the `policy_violation` error, or undefined when allowed.
 */
export function checkCommandRules(invocation: ShellInvocation, rules: CommandRules): AsmError | undefined {
  const names = invocationCommandNames(invocation);
  const denied = new Set((rules.denied ?? []).map(commandBasename));
  const deniedName = names.find((name) => denied.has(name));
  if (deniedName !== undefined) {
    return new AsmError('policy_violation', `Command '${deniedName}' is denied`, {
      details: { command: deniedName, rule: 'deniedCommands', commandLine: invocation.command },
    });
  }
  if (rules.allowed === undefined) return undefined;
  const allowed = new Set(rules.allowed.map(commandBasename));
  if (names.length === 0) {
    return new AsmError('policy_violation', 'No command found to check against the allowed list', {
      details: { rule: 'allowedCommands', commandLine: invocation.command },
    });
  }
  const outside = names.find((name) => !allowed.has(name));
  if (outside === undefined) return undefined;
  return new AsmError('policy_violation', `Command '${outside}' is not in the allowed list`, {
    details: { command: outside, rule: 'allowedCommands', commandLine: invocation.command },
  });
}
