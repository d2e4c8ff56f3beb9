export type { ShellCommandInput, ShellInvocation } from './shell-input.js';
export { commandBasename, commandNames, parseShellInput } from './shell-input.js';
export type { CommandRules } from './shell-policy.js';
export { checkCommandRules, invocationCommandNames } from './shell-policy.js';
export type { ShellProvider, ShellProviderSettings } from './shell-provider.js';
export {
  createShellProvider,
  DEFAULT_SHELL_MAX_OUTPUT_BYTES,
  SHELL_TIMEOUT_EXIT_CODE,
} from './shell-provider.js';
