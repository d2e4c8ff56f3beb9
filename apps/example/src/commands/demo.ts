import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AsmError, ExecuteRunOptions, Run, SessionManager, StoredEvent } from '@asm/core';
import type { PolicyInput } from '@asm/policy';
import type { RoutingDecision } from '@asm/routing';
import { type OptionDefinitions, parseCommandArgs } from '../args.js';
import { type CommandContext, openStoreFromArgs, processContext } from '../context.js';
import { CliError, EXIT, type ExitCode } from '../exit-codes.js';
import { eventLine, formatCost, formatDuration, formatTokens, painter, runDurationMs } from '../format.js';
import { describePolicy } from '../policy-file.js';
import { detectProviders } from '../providers.js';
import { openStore } from '../store.js';
import { executeWithRendering } from './run.js';
import { formatSessionReport, loadSessionReport } from './show.js';

const OPTIONS = { keep: { type: 'boolean' } } as const satisfies OptionDefinitions;

/** Help text of `asm demo`. */
export const DEMO_HELP = `Usage: asm demo [--store <spec>] [--keep]

An offline tour in a few seconds, with no API key and no network: one session whose runs go
through the same router, policies, store and renderer as \`asm run\`, with @asm/shell running real
commands in a scratch folder. It shows a failover (Claude pointed at a closed local port, so it is
unavailable), a policy violation, a cancelled run, continuation across runs, and the persisted log
read back through a fresh connection. No model is called and no answer is made up: what a run
prints is the output of a real command. The session stays in the store (agent asm-demo, tag demo)
for \`asm show\`, \`asm events\` and \`asm serve\`.

Options:
      --keep          keep the scratch folder (removed by default)
      --store <spec>  file path (SQLite), postgres://… or redis://… (default: ASM_STORE or the data dir)
      --no-color      no ANSI colours`;

/** The policy of step 2, in the format `asm run --policy <file>` reads. */
export const DEMO_POLICY: PolicyInput = {
  name: 'demo-budget',
  limits: { maxDurationMs: 1000 },
  onViolation: 'cancel',
};

/** A port on 127.0.0.1 with nothing listening: connections to it are refused. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** `asm demo`. */
export async function demoCommand(args: string[]): Promise<ExitCode> {
  const { values } = parseCommandArgs('demo', args, OPTIONS, 0);
  const context = processContext(values);
  if (values.help) {
    context.out(`${DEMO_HELP}\n`);
    return EXIT.ok;
  }
  const paint = painter(context.color);
  const say = (text = '') => context.out(`${text}\n`);
  const heading = (text: string) => say(`\n${paint('1', text)}`);
  const note = (text: string) => say(paint('2', text));
  const started = performance.now();

  say(paint('1', 'asm demo: an offline tour of Agent Session Manager (no API key, no network)'));

  // Which real providers `asm run` would use, and how to enable the others.
  heading('Providers');
  const statuses = detectProviders(context.env);
  for (const status of statuses) {
    if (status.configured) {
      say(
        `  ${paint('32', '✓')} ${status.name.padEnd(6)} configured (${status.detail}); \`asm run\` uses it, the demo does not call it`,
      );
    } else {
      say(`  ${paint('33', '-')} ${status.name.padEnd(6)} skipped: ${status.detail}`);
      say(`           to enable: ${status.enable}`);
    }
  }

  const opened = await openStoreFromArgs(values, context);
  const workspace = await mkdtemp(join(tmpdir(), 'asm-demo-'));
  let readBack: Awaited<ReturnType<typeof openStore>> | undefined;
  try {
    await writeFile(join(workspace, 'notes.txt'), 'ship the CLI\nwrite the README\nrun the demo\n');
    await writeFile(join(workspace, 'plan.md'), '# Plan\n\n1. Route.\n2. Persist.\n3. Replay.\n');
    const port = await closedPort();
    const { createClaudeProvider } = await import('@asm/claude');
    const { createShellProvider } = await import('@asm/shell');
    const { createRouter } = await import('@asm/routing');
    const { createSessionManager } = await import('@asm/core');
    const { policyRunOptions, definePolicy } = await import('@asm/policy');

    // A real Claude adapter, pointed at a local port where nothing listens: its connection is
    // refused, which is what an outage looks like to the router. The key is a placeholder so the
    // adapter gets as far as connecting; no request can reach Anthropic.
    const claude = createClaudeProvider({
      apiKey: 'asm-demo-placeholder',
      baseURL: `http://127.0.0.1:${port}`,
      maxRetries: 0,
    });
    const shell = createShellProvider({ cwd: workspace, timeoutMs: 30_000, deniedCommands: ['rm', 'sudo'] });
    const router = createRouter({ providers: [claude, shell], strategy: 'priority' });
    const manager = createSessionManager({ store: opened.store, provider: router });

    const session = await manager.startSession({ agentId: 'asm-demo', tags: ['demo'] });
    heading('Setup');
    say(
      `  route    claude → shell: claude is the real adapter, pointed at 127.0.0.1:${port} where nothing listens`,
    );
    say(`  shell    @asm/shell runs real commands in ${workspace}`);
    say(`  store    ${opened.description}`);
    say(`  session  ${session.id}`);
    note('  Everything printed under a run is the output of a real command: no model is called.');

    // 1. Failover.
    heading('1. Failover: the router skips an unavailable provider');
    const first = await step(manager, context, session.id, 'ls -1 && head -n 1 notes.txt', {});
    const routing = first.run.providerMetadata.routing as RoutingDecision | undefined;
    const failed = routing?.attempts.find((attempt) => attempt.outcome === 'failed');
    if (first.run.status === 'completed' && failed) {
      note(
        `  claude failed with ${failed.error?.code} (${failed.error?.message}); the error is retryable, so the router failed over to ${first.run.provider}.`,
      );
      note(
        '  The log keeps both attempts (error_occurred for claude, error_recovered for shell): one run, one start, one end.',
      );
    } else {
      note(`  unexpected: the run ended ${first.run.status} on ${first.run.provider ?? 'no provider'}.`);
    }

    // 2. Policy violation.
    heading('2. Policy violation: a budget cancels a run that runs too long');
    const policy = definePolicy(DEMO_POLICY);
    note(`  policy file (as \`asm run --policy <file>\` reads it): ${JSON.stringify(DEMO_POLICY)}`);
    note(`  ${describePolicy(policy)}`);
    const second = await step(
      manager,
      context,
      session.id,
      'echo "working…" && sleep 30',
      policyRunOptions(policy),
    );
    if (second.error?.code === 'policy_violation') {
      note(
        `  The run ${second.run.status} with policy_violation after ${formatDuration(runDurationMs(second.run))}; the command's process group was killed.`,
      );
    } else {
      note(
        `  unexpected: the run ended ${second.run.status}${second.error ? ` (${second.error.code})` : ''}.`,
      );
    }

    // 3. Cancelled run.
    heading('3. Cancellation: a run cancelled while its command runs');
    const third = await step(manager, context, session.id, 'sleep 30', {}, (event, runId) => {
      if (event.type === 'tool_call_started') {
        note('  (the demo calls manager.cancelRun now, as Ctrl-C does in `asm run`)');
        void manager.cancelRun(runId, { reason: 'cancelled by the demo' });
      }
    });
    note(
      third.run.status === 'cancelled'
        ? '  The run ended cancelled (run_cancelled); `sleep 30` and its process group were killed.'
        : `  unexpected: the run ended ${third.run.status}.`,
    );

    // 4. Continuation.
    heading('4. Continuation: the session goes on across runs');
    const fourth = await step(manager, context, session.id, 'wc -l < notes.txt && ls', {});
    const { buildTranscript } = await import('@asm/core');
    const transcript = buildTranscript(
      await opened.store.getEvents(session.id, { before: firstSequenceOf(fourth.events) }),
    );
    const routingFour = fourth.run.providerMetadata.routing as RoutingDecision | undefined;
    note(
      `  Each step reopened the same session (completed → active), as \`asm run --continue ${session.id}\` does.`,
    );
    note(
      `  Run 4 went to ${fourth.run.provider}${routingFour?.sticky?.applied ? ' (the router keeps a session on the provider that served it last)' : ''}, with the conversation so far: ${transcript.messages.length} transcript messages, replayed with continuation "${routingFour?.attempts[0]?.continuation ?? 'replay'}".`,
    );
    note('  A model provider reads that transcript as earlier turns; shell runs only the new command.');

    // 5. Read the log back from a fresh connection.
    heading('5. The persisted log, read back through a new store connection');
    await opened.close();
    readBack = await openStore(opened.spec);
    const report = await loadSessionReport(readBack.store, session.id);
    if (!report)
      throw new CliError(EXIT.failed, `Session ${session.id} was not found after reopening the store`);
    context.out(formatSessionReport(report, context.color).replace(/^/gm, '  '));
    say('');
    say(paint('1', '  events'));
    for (const event of await readBack.store.getEvents(session.id))
      say(`  ${eventLine(event, context.color)}`);

    heading('Next');
    say(`  asm show ${session.id}`);
    say(`  asm events ${session.id} --follow`);
    say('  asm serve                   # then open http://127.0.0.1:7420/ui');
    say('  asm run --provider shell "git status"');
    const configured = statuses.filter((status) => status.configured);
    if (configured.length > 0) {
      say(
        `  asm run "Summarize README.md"   # through ${configured.map((status) => status.name).join(' → ')}`,
      );
    } else {
      say('  export ANTHROPIC_API_KEY=sk-ant-…  then  asm run "Summarize README.md"');
    }
    note(`\n  demo finished in ${formatDuration(performance.now() - started)}`);
    return EXIT.ok;
  } finally {
    if (readBack) await readBack.close().catch(() => undefined);
    else await opened.close().catch(() => undefined);
    if (values.keep === true) context.err(`scratch folder kept: ${workspace}\n`);
    else await rm(workspace, { recursive: true, force: true });
  }
}

function firstSequenceOf(events: StoredEvent[]): number | undefined {
  return events[0]?.sequence;
}

/**
 * One demo step, the way `asm run --continue <session>` does it: reopen the session, start a run,
 * execute it with live rendering, complete the session. Ctrl-C stops the demo (exit code 130).
 */
async function step(
  manager: SessionManager,
  context: CommandContext,
  sessionId: string,
  command: string,
  options: Partial<ExecuteRunOptions>,
  onEvent?: (event: StoredEvent, runId: string) => void,
): Promise<{ run: Run; error?: AsmError; events: StoredEvent[] }> {
  const paint = painter(context.color);
  context.out(`${paint('36', '$')} ${command}\n`);
  const before = await manager.getSession(sessionId);
  const run = await manager.startRun(sessionId, command, { reopen: before?.status === 'completed' });
  const outcome = await executeWithRendering(manager, run.id, {
    context,
    renderName: 'studio',
    json: false,
    options: { timeoutMs: 30_000, ...options },
    ...(onEvent ? { onEvent: (event: StoredEvent) => onEvent(event, run.id) } : {}),
  });
  const session = await manager.getSession(sessionId);
  if (session?.status === 'active') await manager.completeSession(sessionId);
  if (outcome.interrupted) throw new CliError(EXIT.interrupted, 'Demo interrupted');
  context.out(
    paint(
      '2',
      `  run ${run.id} ${outcome.run.status} on ${outcome.run.provider ?? '-'} · ${formatTokens(outcome.run.tokenUsage)} tokens · cost ${formatCost(outcome.run.costUsd, outcome.run.tokenUsage)}\n`,
    ),
  );
  return { run: outcome.run, ...(outcome.error ? { error: outcome.error } : {}), events: outcome.events };
}
