import { readFileSync } from 'node:fs';
import {
  AsmError,
  type ExecuteRunOptions,
  isPermissionMode,
  PERMISSION_MODES,
  type Run,
  type Session,
  type SessionManager,
  type StoredEvent,
} from '@asm/core';
import { createRenderPipeline, createTtySink } from '@asm/render';
import {
  integerOption,
  listOption,
  type OptionDefinitions,
  parseCommandArgs,
  stringOption,
} from '../args.js';
import { type CommandContext, onInterrupt, openStoreFromArgs, processContext } from '../context.js';
import { CliError, EXIT, type ExitCode, exitCodeFor, usageError } from '../exit-codes.js';
import {
  createLiveRenderer,
  formatCost,
  formatDuration,
  formatTokens,
  painter,
  RENDERER_NAMES,
  type RendererName,
  runDurationMs,
} from '../format.js';
import { describePolicy, loadPolicyFile } from '../policy-file.js';
import { createProviderRouter, detectProviders, selectProviders } from '../providers.js';

const OPTIONS = {
  provider: { type: 'string', short: 'p' },
  model: { type: 'string', short: 'm' },
  policy: { type: 'string' },
  continue: { type: 'string', short: 'c' },
  agent: { type: 'string' },
  tag: { type: 'string', multiple: true },
  system: { type: 'string' },
  timeout: { type: 'string' },
  'permission-mode': { type: 'string' },
  render: { type: 'string' },
  json: { type: 'boolean' },
} as const satisfies OptionDefinitions;

/** Help text of `asm run`. */
export const RUN_HELP = `Usage: asm run "<prompt>" [options]

Runs a prompt through the router over every configured provider (claude, then codex, then amp;
a provider that is unavailable fails over to the next), renders the events live, and prints
tokens, cost and the session id at the end. "-" as the prompt reads it from stdin.

Options:
  -p, --provider <name>     only this provider: claude, codex, amp, or shell (runs the prompt
                            as a shell command in the current directory, through @asm/shell)
  -m, --model <id>          model of the first provider (the one --provider names)
      --policy <file>       JSON policy: { "limits": {...}, "tools": { "allow": [], "deny": [] }, "onViolation": "cancel" }
  -c, --continue <session>  continue a session (a completed session is reopened)
      --agent <id>          agent id of a new session (default asm-cli)
      --tag <tag>           tag a new session (repeatable)
      --system <prompt>     system prompt of a new session
      --timeout <seconds>   longest the run may take (default 600)
      --permission-mode <m> ${PERMISSION_MODES.join(', ')}
      --render <name>       live rendering: studio (default), compact, verbose
      --json                no live rendering; print the result as one JSON object
      --store <spec>        file path (SQLite), postgres://… or redis://… (default: ASM_STORE or the data dir)
      --no-color            no ANSI colours

Ctrl-C cancels the run (exit code 130); a second Ctrl-C exits at once.`;

/** `asm run`. */
export async function runCommand(args: string[]): Promise<ExitCode> {
  const { values, positionals } = parseCommandArgs('run', args, OPTIONS, Number.POSITIVE_INFINITY);
  const context = processContext(values);
  if (values.help) {
    context.out(`${RUN_HELP}\n`);
    return EXIT.ok;
  }
  let prompt = positionals.join(' ').trim();
  if (prompt === '-') prompt = readFileSync(0, 'utf8').trim();
  if (prompt === '') throw usageError('asm run needs a prompt: asm run "Summarize README.md"', 'run');
  const renderName = (stringOption(values, 'render') ?? 'studio') as RendererName;
  if (!RENDERER_NAMES.includes(renderName)) {
    throw usageError(`--render must be one of ${RENDERER_NAMES.join(', ')}`, 'run');
  }
  const timeoutSeconds = integerOption(values, 'timeout', 'run', 1) ?? 600;
  const permissionMode = stringOption(values, 'permission-mode');
  if (permissionMode !== undefined && !isPermissionMode(permissionMode)) {
    throw usageError(`--permission-mode must be one of ${PERMISSION_MODES.join(', ')}`, 'run');
  }
  const model = stringOption(values, 'model');
  if (model !== undefined && model.trim() === '') throw usageError('--model needs a model id', 'run');

  const selected = selectProviders(detectProviders(context.env), stringOption(values, 'provider'));
  if (model && selected[0]?.name === 'amp') {
    context.err('note: amp has no model selection; --model is ignored\n');
  }
  const policyPath = stringOption(values, 'policy');
  const policy = policyPath === undefined ? undefined : await loadPolicyFile(policyPath);

  const opened = await openStoreFromArgs(values, context);
  try {
    const router = await createProviderRouter(selected, { cwd: context.cwd, ...(model ? { model } : {}) });
    const { createSessionManager } = await import('@asm/core');
    const manager = createSessionManager({ store: opened.store, provider: router });

    const continueId = stringOption(values, 'continue');
    let session: Session;
    let wasActive = false;
    if (continueId !== undefined) {
      const existing = await manager.getSession(continueId);
      if (!existing) {
        throw new CliError(EXIT.notFound, `Session ${continueId} not found in ${opened.description}`);
      }
      if (existing.status === 'failed' || existing.status === 'cancelled') {
        throw new CliError(
          EXIT.failed,
          `Session ${continueId} is ${existing.status}, and ${existing.status} sessions are final`,
          'Start a new session with `asm run "<prompt>"`.',
        );
      }
      wasActive = existing.status === 'active';
      if (existing.status === 'paused') await manager.resumeSession(existing.id);
      session = existing;
    } else {
      const system = stringOption(values, 'system');
      session = await manager.startSession({
        agentId: stringOption(values, 'agent') ?? 'asm-cli',
        tags: listOption(values, 'tag'),
        ...(system ? { context: { systemPrompt: system } } : {}),
      });
    }
    const run = await manager.startRun(session.id, prompt, { reopen: session.status === 'completed' });
    const paintError = painter(context.errorColor);
    context.err(
      paintError(
        '2',
        `session ${session.id} · run ${run.id} · via ${selected.map((status) => status.name).join(' → ')} · ${opened.description}\n`,
      ),
    );
    if (policy) context.err(paintError('2', `policy ${describePolicy(policy)}\n`));

    const policyOptions: Partial<ExecuteRunOptions> = {};
    if (policy) {
      const { policyRunOptions } = await import('@asm/policy');
      Object.assign(policyOptions, policyRunOptions(policy));
    }
    const outcome = await executeWithRendering(manager, run.id, {
      context,
      renderName,
      json: values.json === true,
      options: {
        ...policyOptions,
        timeoutMs: timeoutSeconds * 1000,
        ...(permissionMode && isPermissionMode(permissionMode) ? { permissionMode } : {}),
      },
    });
    if (!wasActive) {
      const current = await manager.getSession(session.id);
      if (current?.status === 'active') await manager.completeSession(session.id);
    }
    const stored = (await manager.getRun(run.id)) ?? outcome.run;
    if (values.json === true) {
      context.out(`${JSON.stringify(runJson(stored, outcome.error), null, 2)}\n`);
    } else {
      context.out(runSummary(stored, outcome.error, context.color));
      context.out(`continue with: asm run --continue ${session.id} "<prompt>"\n`);
    }
    if (outcome.error?.code === 'provider_authentication_failed') {
      context.err('The provider refused the key: check ANTHROPIC_API_KEY, OPENAI_API_KEY or AMP_API_KEY.\n');
    }
    if (outcome.interrupted) return EXIT.interrupted;
    return outcome.error ? exitCodeFor(outcome.error) : EXIT.ok;
  } finally {
    await opened.close().catch(() => undefined);
  }
}

/** The outcome of one executed run. */
export interface RunOutcome {
  run: Run;
  error?: AsmError;
  /** True when Ctrl-C (or SIGTERM) cancelled it. */
  interrupted: boolean;
  events: StoredEvent[];
}

/**
 * Executes a pending run with live rendering (unless `json`), cancelling it on Ctrl-C. Never
 * throws for the run's own failure: the error is returned with the stored run.
 */
export async function executeWithRendering(
  manager: SessionManager,
  runId: string,
  settings: {
    context: CommandContext;
    renderName: RendererName;
    json: boolean;
    options: ExecuteRunOptions;
    /** Called with each stored event after it is rendered. */
    onEvent?: (event: StoredEvent) => void;
  },
): Promise<RunOutcome> {
  const { context } = settings;
  const pipeline = settings.json
    ? undefined
    : createRenderPipeline({
        renderer: createLiveRenderer(settings.renderName, { color: context.color, tty: context.tty }),
        sinks: [createTtySink()],
      });
  const events: StoredEvent[] = [];
  let interrupted = false;
  const dispose = onInterrupt((signal) => {
    interrupted = true;
    context.err(`\n${signal === 'SIGINT' ? 'Ctrl-C' : signal}: cancelling the run… (again to exit now)\n`);
    void manager.cancelRun(runId, { reason: `Interrupted by ${signal}` }).catch(() => undefined);
  });
  let error: AsmError | undefined;
  try {
    await manager.executeRun(runId, {
      ...settings.options,
      onEvent: (event) => {
        events.push(event);
        pipeline?.push(event);
        settings.onEvent?.(event);
      },
    });
  } catch (caught) {
    error = AsmError.from(caught);
  } finally {
    dispose();
    await pipeline?.finish();
  }
  const run = await manager.getRun(runId);
  if (!run) throw new AsmError('run_not_found', `Run ${runId} disappeared from the store`);
  return { run, ...(error ? { error } : {}), interrupted, events };
}

/** The closing lines of a run: status, provider, tokens, cost, session. */
export function runSummary(run: Run, error: AsmError | undefined, color: boolean): string {
  const paint = painter(color);
  const model = typeof run.providerMetadata.model === 'string' ? ` (${run.providerMetadata.model})` : '';
  const status =
    run.status === 'completed'
      ? paint('32', '✓ completed')
      : paint(
          '31',
          `✗ ${run.status}${error ? `: ${error.code === run.status ? '' : `${error.code}: `}${error.message}` : ''}`,
        );
  const lines = [
    `${status} · ${run.provider ?? 'no provider'}${model} · ${formatDuration(runDurationMs(run))}`,
  ];
  const attempts = (error?.details?.attempts ?? []) as Array<Record<string, unknown>>;
  for (const attempt of Array.isArray(attempts) ? attempts : []) {
    lines.push(
      `  attempt ${String(attempt.attempt)}: ${String(attempt.provider)} ${String(attempt.code)}: ${String(attempt.message)}`,
    );
  }
  const stderr = (error?.providerError as { stderr?: unknown } | undefined)?.stderr;
  if (typeof stderr === 'string' && stderr.trim() !== '') {
    lines.push(
      ...stderr
        .trimEnd()
        .split('\n')
        .slice(-5)
        .map((line) => paint('2', `  stderr: ${line}`)),
    );
  }
  lines.push(`tokens   ${formatTokens(run.tokenUsage)}`);
  lines.push(`cost     ${formatCost(run.costUsd, run.tokenUsage)}`);
  lines.push(`session  ${run.sessionId}   run ${run.id}`);
  return `${lines.join('\n')}\n`;
}

/** `asm run --json` output. */
export function runJson(run: Run, error: AsmError | undefined): Record<string, unknown> {
  return {
    sessionId: run.sessionId,
    runId: run.id,
    status: run.status,
    provider: run.provider ?? null,
    model: run.providerMetadata.model ?? null,
    output: run.output?.content ?? null,
    tokenUsage: run.tokenUsage,
    costUsd: run.costUsd ?? null,
    durationMs: runDurationMs(run) ?? null,
    error: error ? { code: error.code, message: error.message } : null,
  };
}
