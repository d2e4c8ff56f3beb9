import { AsmError } from './errors.js';
import { type AdapterEvent, abortError, type ExecuteOptions } from './ports/provider-adapter.js';
import { isToolAllowed, type Tool, type ToolCall, type ToolRules } from './tools.js';

/** The turn limit of `runToolLoop` when none is given. */
export const DEFAULT_MAX_TURNS = 20;

/** The stop reason `runToolLoop` reports when the turn limit ended the loop with calls still to answer. */
export const MAX_TURNS_STOP_REASON = 'max_turns';

/** What one model turn produced, as the adapter's `runTurn` reports it. */
export interface ToolLoopTurn {
  /** Tool calls the model asked for in this turn, in the model's order. Empty when it is done. */
  toolCalls: ToolCall[];
  /** Why the model stopped (`end_turn`, `tool_use`, `max_tokens`, …), in the provider's words. */
  stopReason?: string;
  /**
   * Run another turn even without tool calls (Anthropic's `pause_turn`: the model paused a long
   * server-side operation and continues when asked again). Counts against `maxTurns`.
   */
  continue?: boolean;
}

/** The result of one tool call, fed back to the model on the next turn. */
export interface ToolResult {
  toolCallId: string;
  toolName: string;
  /**
   * What the tool returned (any value; the adapter turns it into the provider's format), or, when
   * `isError`, the message the model should see.
   */
  output: unknown;
  /** True when the call failed: the tool threw, was denied, or does not exist. */
  isError: boolean;
}

/** What `runTurn` receives. */
export interface ToolLoopTurnContext {
  /** 1 for the first model turn of the run. */
  turn: number;
  /**
   * Results of the previous turn's tool calls, in the order of the calls: the adapter sends them to
   * the model (Anthropic: `tool_result` blocks). Empty on the first turn and after a `continue` turn.
   */
  toolResults: ToolResult[];
  signal: AbortSignal;
}

/** Options of `runToolLoop`. */
export interface RunToolLoopOptions<TTurn extends ToolLoopTurn = ToolLoopTurn> {
  /**
   * Performs one model turn: sends the conversation (with `context.toolResults` appended), streams
   * the answer, emits its message and usage events, remembers the assistant message for the next
   * turn, and reports the tool calls and stop reason. Rejecting ends the loop with that error.
   */
  runTurn(context: ToolLoopTurnContext): Promise<TTurn>;
  /** The tools offered to the model. A call to a tool not listed here fails with an error result. */
  tools?: readonly Tool[];
  /** Asked before every tool runs (`ExecuteOptions.authorizeToolCall`). */
  authorizeToolCall: ExecuteOptions['authorizeToolCall'];
  /** Where tool and turn events go (`ExecuteOptions.emit`). */
  emit(event: AdapterEvent): void;
  /** The run's signal: checked before and after every await, and handed to every tool. */
  signal: AbortSignal;
  /**
   * Most model turns of the run. When the limit is reached and the model still asks for tools, the
   * loop stops with stop reason `max_turns` and those calls pending. Default `DEFAULT_MAX_TURNS` (20).
   */
  maxTurns?: number;
  /** Calls to tools these rules do not allow fail without running (and without asking). Deny wins. */
  toolRules?: ToolRules;
  /**
   * Run the calls of one turn concurrently (authorization included). Default false: one after the
   * other, in the model's order, so events and approvals come in a predictable order.
   */
  parallel?: boolean;
}

/** How the loop ended. */
export interface ToolLoopResult<TTurn extends ToolLoopTurn = ToolLoopTurn> {
  /** The last turn `runTurn` returned. */
  lastTurn: TTurn;
  /** Number of model turns. */
  turns: number;
  /**
   * The last turn's stop reason; `tool_use` when calls are pending because their tools have no
   * `execute`; `max_turns` when the turn limit stopped the loop.
   */
  stopReason: string | undefined;
  /** Calls the app must answer (tools without `execute`, or every call of the turn the limit cut). */
  pendingToolCalls: ToolCall[];
  /** Every tool result of the run, in order. */
  toolResults: ToolResult[];
  /** True when `maxTurns` ended the loop. */
  maxTurnsReached: boolean;
}

function errorMessageOf(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return typeof error === 'string' ? error : String(error);
}

function validateMaxTurns(maxTurns: number): void {
  const valid = maxTurns === Number.POSITIVE_INFINITY || (Number.isInteger(maxTurns) && maxTurns >= 1);
  if (!valid) {
    throw new AsmError('validation_error', 'maxTurns must be a positive integer', {
      details: { field: 'maxTurns', value: maxTurns },
    });
  }
}

/**
 * The provider-agnostic agent loop every tool-calling adapter reuses (Claude Messages, Codex
 * Responses, third-party adapters). Per model turn:
 *
 * 1. `runTurn` streams the model's answer and reports its tool calls;
 * 2. the loop emits `turn_completed` (`{ turn, stopReason }`);
 * 3. for every call it emits `tool_call_started`, then:
 *    - a tool the rules do not allow, or that is not offered, fails (`tool_call_failed`, an error
 *      result the model sees) without running;
 *    - a tool without `execute` becomes a pending call;
 *    - otherwise it asks `authorizeToolCall` (a denial is `tool_call_failed` with the reason, an
 *      error result the model sees; an allowed call may carry rewritten input), runs
 *      `tool.execute(input, { signal, toolCallId })` and emits `tool_call_completed` with the output,
 *      or `tool_call_failed` with the error message when it throws (the model sees that message as
 *      an error result, and the loop goes on);
 * 4. with pending calls the loop stops (`stopReason: 'tool_use'`) after running the others;
 *    otherwise it feeds the results to the next turn.
 *
 * It stops when a turn has no tool calls (and does not ask to `continue`), or at `maxTurns`: then the
 * calls of the last turn are not run but returned as pending, with stop reason `max_turns`. An
 * aborted signal rejects with `abortError(signal)`, checked before and after every await; a tool
 * that throws after the abort does not count as a tool failure. Errors of `runTurn` and
 * `authorizeToolCall` reject the loop as they are.
 */
export async function runToolLoop<TTurn extends ToolLoopTurn>(
  options: RunToolLoopOptions<TTurn>,
): Promise<ToolLoopResult<TTurn>> {
  const { signal, emit } = options;
  const maxTurns = options.maxTurns ?? DEFAULT_MAX_TURNS;
  validateMaxTurns(maxTurns);
  const toolsByName = new Map<string, Tool>();
  for (const tool of options.tools ?? []) toolsByName.set(tool.name, tool);
  const allResults: ToolResult[] = [];
  let previous: ToolResult[] = [];

  const checkAbort = (): void => {
    if (signal.aborted) throw abortError(signal);
  };

  const fail = (call: ToolCall, message: string, input: unknown): ToolResult => {
    emit({
      type: 'tool_call_failed',
      data: { toolCallId: call.id, toolName: call.name, toolInput: input, errorMessage: message },
    });
    return { toolCallId: call.id, toolName: call.name, output: message, isError: true };
  };

  const runCall = async (call: ToolCall, tool: Tool | undefined): Promise<ToolResult> => {
    if (!isToolAllowed(options.toolRules, call.name)) {
      return fail(call, `Tool ${call.name} is not allowed for this run`, call.input);
    }
    if (!tool?.execute) return fail(call, `Unknown tool: ${call.name}`, call.input);
    const decision = await options.authorizeToolCall(call, { signal });
    checkAbort();
    if (!decision.allow) return fail(call, `Tool call denied: ${decision.reason}`, call.input);
    const input = decision.input !== undefined ? decision.input : call.input;
    let output: unknown;
    try {
      output = await tool.execute(input, { signal, toolCallId: call.id });
    } catch (error) {
      checkAbort();
      return fail(call, errorMessageOf(error), input);
    }
    checkAbort();
    const data: { toolCallId: string; toolName: string; toolInput: unknown; toolOutput?: unknown } = {
      toolCallId: call.id,
      toolName: call.name,
      toolInput: input,
    };
    if (output !== undefined) data.toolOutput = output;
    emit({ type: 'tool_call_completed', data });
    return { toolCallId: call.id, toolName: call.name, output, isError: false };
  };

  for (let turn = 1; ; turn++) {
    checkAbort();
    const result = await options.runTurn({ turn, toolResults: previous, signal });
    checkAbort();
    const turnData: { turn: number; stopReason?: string } = { turn };
    if (result.stopReason !== undefined) turnData.stopReason = result.stopReason;
    emit({ type: 'turn_completed', data: turnData });
    const done = (stopReason: string | undefined, pending: ToolCall[], cut: boolean) => ({
      lastTurn: result,
      turns: turn,
      stopReason,
      pendingToolCalls: pending,
      toolResults: allResults,
      maxTurnsReached: cut,
    });

    if (result.toolCalls.length === 0) {
      if (!result.continue) return done(result.stopReason, [], false);
      if (turn >= maxTurns) return done(MAX_TURNS_STOP_REASON, [], true);
      previous = [];
      continue;
    }

    for (const call of result.toolCalls) {
      emit({
        type: 'tool_call_started',
        data: { toolCallId: call.id, toolName: call.name, toolInput: call.input },
      });
    }
    if (turn >= maxTurns) return done(MAX_TURNS_STOP_REASON, [...result.toolCalls], true);

    const pending: ToolCall[] = [];
    const runnable: { call: ToolCall; tool: Tool | undefined }[] = [];
    for (const call of result.toolCalls) {
      const tool = toolsByName.get(call.name);
      if (tool && !tool.execute && isToolAllowed(options.toolRules, call.name)) pending.push(call);
      else runnable.push({ call, tool });
    }

    const results: ToolResult[] = [];
    if (options.parallel) {
      results.push(...(await Promise.all(runnable.map(({ call, tool }) => runCall(call, tool)))));
    } else {
      for (const { call, tool } of runnable) {
        checkAbort();
        results.push(await runCall(call, tool));
      }
    }
    checkAbort();
    allResults.push(...results);
    if (pending.length > 0) return done('tool_use', pending, false);
    previous = results;
  }
}
