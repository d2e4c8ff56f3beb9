import { describe, expect, it } from 'vitest';
import { AsmError } from '../src/errors.js';
import type { AdapterEvent } from '../src/ports/provider-adapter.js';
import {
  DEFAULT_MAX_TURNS,
  type RunToolLoopOptions,
  runToolLoop,
  type ToolLoopTurn,
  type ToolLoopTurnContext,
} from '../src/tool-loop.js';
import type { Tool, ToolCall, ToolDecision } from '../src/tools.js';

interface Harness {
  events: AdapterEvent[];
  contexts: ToolLoopTurnContext[];
  authorized: ToolCall[];
  options: RunToolLoopOptions;
}

/** A loop whose turns come from a script; the last scripted turn repeats. */
function harness(
  turns: ToolLoopTurn[],
  overrides: Partial<RunToolLoopOptions> & { decide?: (call: ToolCall) => ToolDecision } = {},
): Harness {
  const events: AdapterEvent[] = [];
  const contexts: ToolLoopTurnContext[] = [];
  const authorized: ToolCall[] = [];
  const controller = new AbortController();
  const options: RunToolLoopOptions = {
    runTurn: async (context) => {
      contexts.push({ ...context, toolResults: [...context.toolResults] });
      return turns[Math.min(context.turn - 1, turns.length - 1)]!;
    },
    authorizeToolCall: async (call) => {
      authorized.push(call);
      return overrides.decide ? overrides.decide(call) : { allow: true };
    },
    emit: (event) => events.push(event),
    signal: controller.signal,
    ...overrides,
  };
  return { events, contexts, authorized, options };
}

const weather: Tool<{ city: string }, string> = {
  name: 'get_weather',
  description: 'Weather of a city',
  inputSchema: { type: 'object', properties: { city: { type: 'string' } } },
  execute: async (input) => `sunny in ${input.city}`,
};

const call = (id: string, name = 'get_weather', input: unknown = { city: 'Paris' }): ToolCall => ({
  id,
  name,
  input,
});

const types = (events: AdapterEvent[]) => events.map((event) => event.type);

describe('runToolLoop', () => {
  it('runTurn - a turn without tool calls ends the loop with its stop reason', async () => {
    const { options, events, contexts } = harness([{ toolCalls: [], stopReason: 'end_turn' }], {
      tools: [weather],
    });
    const result = await runToolLoop(options);
    expect(result).toMatchObject({
      turns: 1,
      stopReason: 'end_turn',
      pendingToolCalls: [],
      toolResults: [],
      maxTurnsReached: false,
    });
    expect(contexts[0]).toMatchObject({ turn: 1, toolResults: [] });
    expect(events).toEqual([{ type: 'turn_completed', data: { turn: 1, stopReason: 'end_turn' } }]);
  });

  it('tools - runs a call, emits started and completed, and feeds the result to the next turn', async () => {
    const { options, events, contexts, authorized } = harness(
      [
        { toolCalls: [call('t1')], stopReason: 'tool_use' },
        { toolCalls: [], stopReason: 'end_turn' },
      ],
      { tools: [weather] },
    );
    const result = await runToolLoop(options);
    expect(result.turns).toBe(2);
    expect(result.stopReason).toBe('end_turn');
    expect(authorized).toEqual([call('t1')]);
    expect(contexts[1]?.toolResults).toEqual([
      { toolCallId: 't1', toolName: 'get_weather', output: 'sunny in Paris', isError: false },
    ]);
    expect(events).toEqual([
      { type: 'turn_completed', data: { turn: 1, stopReason: 'tool_use' } },
      {
        type: 'tool_call_started',
        data: { toolCallId: 't1', toolName: 'get_weather', toolInput: { city: 'Paris' } },
      },
      {
        type: 'tool_call_completed',
        data: {
          toolCallId: 't1',
          toolName: 'get_weather',
          toolInput: { city: 'Paris' },
          toolOutput: 'sunny in Paris',
        },
      },
      { type: 'turn_completed', data: { turn: 2, stopReason: 'end_turn' } },
    ]);
  });

  it('tools - a tool that throws becomes tool_call_failed and an error result, and the loop goes on', async () => {
    const broken: Tool = {
      name: 'broken',
      inputSchema: { type: 'object' },
      execute: () => {
        throw new Error('disk on fire');
      },
    };
    const { options, events, contexts } = harness(
      [{ toolCalls: [call('t1', 'broken', {})] }, { toolCalls: [], stopReason: 'end_turn' }],
      { tools: [broken] },
    );
    const result = await runToolLoop(options);
    expect(result.stopReason).toBe('end_turn');
    expect(events.find((event) => event.type === 'tool_call_failed')?.data).toEqual({
      toolCallId: 't1',
      toolName: 'broken',
      toolInput: {},
      errorMessage: 'disk on fire',
    });
    expect(contexts[1]?.toolResults).toEqual([
      { toolCallId: 't1', toolName: 'broken', output: 'disk on fire', isError: true },
    ]);
  });

  it('tools - an unknown tool fails with an error result without asking for authorization', async () => {
    const { options, contexts, authorized } = harness(
      [{ toolCalls: [call('t1', 'nope', {})] }, { toolCalls: [] }],
      { tools: [weather] },
    );
    await runToolLoop(options);
    expect(authorized).toEqual([]);
    expect(contexts[1]?.toolResults[0]).toMatchObject({ isError: true, output: 'Unknown tool: nope' });
  });

  it('authorizeToolCall - a denial fails the call with the reason; rewritten input reaches the tool', async () => {
    const seen: unknown[] = [];
    const echo: Tool = {
      name: 'echo',
      inputSchema: { type: 'object' },
      execute: (input) => {
        seen.push(input);
        return input;
      },
    };
    const { options, events, contexts } = harness(
      [{ toolCalls: [call('t1', 'echo', { a: 1 }), call('t2', 'echo', { a: 2 })] }, { toolCalls: [] }],
      {
        tools: [echo],
        decide: (toolCall) =>
          toolCall.id === 't1' ? { allow: true, input: { a: 'rewritten' } } : { allow: false, reason: 'no' },
      },
    );
    await runToolLoop(options);
    expect(seen).toEqual([{ a: 'rewritten' }]);
    expect(contexts[1]?.toolResults).toEqual([
      { toolCallId: 't1', toolName: 'echo', output: { a: 'rewritten' }, isError: false },
      { toolCallId: 't2', toolName: 'echo', output: 'Tool call denied: no', isError: true },
    ]);
    expect(types(events)).toEqual([
      'turn_completed',
      'tool_call_started',
      'tool_call_started',
      'tool_call_completed',
      'tool_call_failed',
      'turn_completed',
    ]);
  });

  it('toolRules - a denied tool fails without asking and without running', async () => {
    let ran = false;
    const guarded: Tool = {
      name: 'rm',
      inputSchema: { type: 'object' },
      execute: () => {
        ran = true;
      },
    };
    const { options, authorized, contexts } = harness(
      [{ toolCalls: [call('t1', 'rm', {})] }, { toolCalls: [] }],
      {
        tools: [guarded],
        toolRules: { deny: ['rm'] },
      },
    );
    await runToolLoop(options);
    expect(ran).toBe(false);
    expect(authorized).toEqual([]);
    expect(contexts[1]?.toolResults[0]).toMatchObject({
      isError: true,
      output: 'Tool rm is not allowed for this run',
    });
  });

  it('pending - a tool without execute ends the loop with tool_use and the pending call, after running the others', async () => {
    const ask: Tool = { name: 'ask_user', inputSchema: { type: 'object' } };
    const { options, events, contexts } = harness(
      [{ toolCalls: [call('t1'), call('t2', 'ask_user', { question: 'why?' })], stopReason: 'tool_use' }],
      { tools: [weather, ask] },
    );
    const result = await runToolLoop(options);
    expect(contexts).toHaveLength(1);
    expect(result.stopReason).toBe('tool_use');
    expect(result.pendingToolCalls).toEqual([call('t2', 'ask_user', { question: 'why?' })]);
    expect(result.toolResults).toEqual([
      { toolCallId: 't1', toolName: 'get_weather', output: 'sunny in Paris', isError: false },
    ]);
    expect(types(events)).toEqual([
      'turn_completed',
      'tool_call_started',
      'tool_call_started',
      'tool_call_completed',
    ]);
  });

  it('maxTurns - stops at the limit with stop reason max_turns and the last calls pending, unrun', async () => {
    let runs = 0;
    const counting: Tool = { ...weather, execute: () => ++runs };
    const { options, contexts } = harness([{ toolCalls: [call('again')], stopReason: 'tool_use' }], {
      tools: [counting],
      maxTurns: 3,
    });
    const result = await runToolLoop(options);
    expect(contexts.map((context) => context.turn)).toEqual([1, 2, 3]);
    expect(runs).toBe(2);
    expect(result).toMatchObject({
      turns: 3,
      stopReason: 'max_turns',
      maxTurnsReached: true,
      pendingToolCalls: [call('again')],
    });
  });

  it('maxTurns - defaults to DEFAULT_MAX_TURNS and rejects an invalid value', async () => {
    const { options, contexts } = harness([{ toolCalls: [call('again')] }], { tools: [weather] });
    const result = await runToolLoop(options);
    expect(contexts).toHaveLength(DEFAULT_MAX_TURNS);
    expect(result.maxTurnsReached).toBe(true);
    await expect(runToolLoop({ ...options, maxTurns: 0 })).rejects.toMatchObject({
      code: 'validation_error',
    });
  });

  it('continue - a pause turn without calls runs another turn with no results', async () => {
    const { options, contexts } = harness(
      [
        { toolCalls: [], stopReason: 'pause_turn', continue: true },
        { toolCalls: [], stopReason: 'end_turn' },
      ],
      { tools: [] },
    );
    const result = await runToolLoop(options);
    expect(result.turns).toBe(2);
    expect(result.stopReason).toBe('end_turn');
    expect(contexts[1]?.toolResults).toEqual([]);
  });

  it('parallel - runs the calls of a turn concurrently and keeps the results in call order', async () => {
    const order: string[] = [];
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const slow: Tool = {
      name: 'slow',
      inputSchema: { type: 'object' },
      execute: async () => {
        order.push('slow started');
        await gate;
        order.push('slow done');
        return 'slow';
      },
    };
    const fast: Tool = {
      name: 'fast',
      inputSchema: { type: 'object' },
      execute: async () => {
        order.push('fast done');
        release();
        return 'fast';
      },
    };
    const { options, contexts } = harness(
      [{ toolCalls: [call('a', 'slow', {}), call('b', 'fast', {})] }, { toolCalls: [] }],
      { tools: [slow, fast], parallel: true },
    );
    await runToolLoop(options);
    expect(order).toEqual(['slow started', 'fast done', 'slow done']);
    expect(contexts[1]?.toolResults.map((result) => result.output)).toEqual(['slow', 'fast']);
  });

  it('abort - rejects with the abort reason while a tool runs, handing the tool the signal', async () => {
    const controller = new AbortController();
    let toolSignal: AbortSignal | undefined;
    const waiting: Tool = {
      name: 'wait',
      inputSchema: { type: 'object' },
      execute: (_input, context) => {
        toolSignal = context.signal;
        return new Promise((_resolve, reject) => {
          context.signal.addEventListener('abort', () => reject(new Error('tool saw the abort')));
          setTimeout(() => controller.abort(new AsmError('cancelled', 'stop it')), 5);
        });
      },
    };
    const { options, events } = harness([{ toolCalls: [call('t1', 'wait', {})] }, { toolCalls: [] }], {
      tools: [waiting],
      signal: controller.signal,
    });
    const error = await runToolLoop(options).catch((caught: unknown) => caught);
    expect(AsmError.isInstance(error) && error.code).toBe('cancelled');
    expect((error as AsmError).message).toBe('stop it');
    expect(toolSignal).toBe(controller.signal);
    expect(types(events)).not.toContain('tool_call_failed');
  });

  it('abort - an already aborted signal rejects before the first turn', async () => {
    const controller = new AbortController();
    controller.abort();
    const { options, contexts } = harness([{ toolCalls: [] }], { signal: controller.signal });
    await expect(runToolLoop(options)).rejects.toMatchObject({ code: 'cancelled' });
    expect(contexts).toHaveLength(0);
  });

  it('runTurn - an error rejects the loop as it is', async () => {
    const boom = new AsmError('provider_unavailable', 'overloaded');
    const { options } = harness([{ toolCalls: [] }], {
      runTurn: async () => {
        throw boom;
      },
    });
    await expect(runToolLoop(options)).rejects.toBe(boom);
  });
});
