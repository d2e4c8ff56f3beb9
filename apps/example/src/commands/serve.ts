import type { ProviderAdapter } from '@asm/core';
import { integerOption, type OptionDefinitions, parseCommandArgs, stringOption } from '../args.js';
import { onInterrupt, openStoreFromArgs, processContext } from '../context.js';
import { CliError, EXIT, type ExitCode, usageError } from '../exit-codes.js';
import { painter } from '../format.js';
import { createProviderRouter, detectProviders } from '../providers.js';

const OPTIONS = {
  port: { type: 'string' },
  host: { type: 'string' },
  token: { type: 'string' },
} as const satisfies OptionDefinitions;

/** Help text of `asm serve`. */
export const SERVE_HELP = `Usage: asm serve [--port 7420] [--host 127.0.0.1] [--token <secret>]

Serves the store over HTTP with @asm/server: the JSON API, Server-Sent Events resumable from the
log, and the dashboard at /ui. Runs submitted through the API go through the same router as
\`asm run\` (the configured providers). Ctrl-C stops it.

Options:
      --port <n>        port (default 7420; 0 picks a free one)
      --host <h>        interface (default 127.0.0.1). Any other host needs --token.
      --token <secret>  require "Authorization: Bearer <secret>" (or ASM_TOKEN), 8 characters or more
      --store <spec>    file path (SQLite), postgres://… or redis://…`;

/** `asm serve`. */
export async function serveCommand(args: string[]): Promise<ExitCode> {
  const { values } = parseCommandArgs('serve', args, OPTIONS, 0);
  const context = processContext(values);
  if (values.help) {
    context.out(`${SERVE_HELP}\n`);
    return EXIT.ok;
  }
  const port = integerOption(values, 'port', 'serve') ?? 7420;
  if (port > 65_535) throw usageError('--port must be at most 65535', 'serve');
  const host = stringOption(values, 'host') ?? '127.0.0.1';
  const token = stringOption(values, 'token') ?? context.env.ASM_TOKEN;
  if (token !== undefined && token.length < 8)
    throw usageError('--token needs at least 8 characters', 'serve');
  const loopback = host === '127.0.0.1' || host === '::1' || host === 'localhost';
  if (!loopback && token === undefined) {
    throw usageError(
      `Listening on ${host} needs --token (or ASM_TOKEN): an open agent server leaks keys and money`,
      'serve',
    );
  }

  const statuses = detectProviders(context.env);
  const configured = statuses.filter((status) => status.configured);
  const paint = painter(context.errorColor);
  const opened = await openStoreFromArgs(values, context);
  let stop: (() => Promise<void>) | undefined;
  try {
    const provider: ProviderAdapter = await createProviderRouter(configured, { cwd: context.cwd });
    const { bearerToken, createAsmServer } = await import('@asm/server');
    const { createSessionRuntime } = await import('@asm/runtime');
    // The session servers that queue and execute the runs submitted through the API. No crash
    // recovery here: a run `running` in the store may belong to an `asm run` in another terminal.
    const runtime = createSessionRuntime({ store: opened.store, provider });
    stop = () => runtime.close({ cancelInFlight: true });
    let server: Awaited<ReturnType<typeof createAsmServer>>;
    try {
      server = await createAsmServer({
        runtime,
        port,
        host,
        ...(token ? { authorize: bearerToken(token) } : {}),
      });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EADDRINUSE')
        throw new CliError(
          EXIT.config,
          `Port ${port} is already in use on ${host}`,
          'Pick another with --port.',
        );
      if (code === 'EACCES') throw new CliError(EXIT.config, `Not allowed to listen on ${host}:${port}`);
      throw error;
    }
    stop = async () => {
      await server.close();
      await runtime.close({ cancelInFlight: true });
    };
    context.out(`asm server on ${server.url} · ${opened.description}\n`);
    context.out(`dashboard  ${server.url}/ui\n`);
    context.out(`API        ${server.url}/api/sessions\n`);
    if (configured.length > 0) {
      context.out(`providers  ${configured.map((status) => status.name).join(' → ')}\n`);
    } else {
      context.err(
        paint(
          '33',
          'no provider is configured: the dashboard and API read the store, and runs submitted through the API fail with provider_unavailable. Set ANTHROPIC_API_KEY (or see `asm demo`).\n',
        ),
      );
    }
    if (token) context.out('auth       Authorization: Bearer <token> required\n');
    context.out('Ctrl-C to stop\n');
    await new Promise<void>((resolve) => {
      const dispose = onInterrupt(() => {
        dispose();
        resolve();
      });
    });
    context.err('stopping…\n');
    return EXIT.ok;
  } finally {
    await stop?.().catch(() => undefined);
    await opened.close().catch(() => undefined);
  }
}
