/**
 * Why the adapter warns:
 * - `unsupported_setting`: a setting Amp cannot honour (`maxTurns`, `systemPrompt`,
 *   `maxOutputTokens`), ignored;
 * - `unsupported_permission_mode`: a permission mode Amp has no equivalent for (`accept_edits`,
 *   `plan`); Amp runs with its own default permissions;
 * - `tool_rules_after_the_fact`: per-run `toolRules` cannot stop a tool before it runs, because Amp
 *   runs its tools itself; a denied call stops the run when Amp announces it;
 * - `unrecognized_output`: output the adapter does not understand was skipped (kept in
 *   `metadata.unrecognized`).
 */
export type AmpWarningCode =
  | 'unsupported_setting'
  | 'unsupported_permission_mode'
  | 'tool_rules_after_the_fact'
  | 'unrecognized_output';

/** A typed warning: what was not honoured, and why. */
export interface AmpWarning {
  code: AmpWarningCode;
  /** The setting or output it is about (`maxTurns`, `permissionMode`, a message type…). */
  setting: string;
  /** A sentence for people; also the string in `ExecuteResult.warnings`. */
  message: string;
}

/** The human-readable warnings, as `ExecuteResult.warnings` and `run_started.data.warnings` carry them. */
export function warningMessages(warnings: readonly AmpWarning[]): string[] {
  return warnings.map((warning) => warning.message);
}
