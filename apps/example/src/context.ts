import { supportsColor } from '@asm/render';
import { type ParsedArgs, stringOption } from './args.js';
import { type OpenStore, openStore, parseStoreSpec } from './store.js';

/** What every command gets: the environment, output streams and colour settings. */
export interface CommandContext {
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  /** Colours on stdout (a colour terminal, no `NO_COLOR`, no `--no-color`). */
  readonly color: boolean;
  /** Colours on stderr. */
  readonly errorColor: boolean;
  /** stdout is a terminal (in-place updates are allowed). */
  readonly tty: boolean;
  /** Writes to stdout. */
  out(text: string): void;
  /** Writes to stderr. */
  err(text: string): void;
}

/** The context of the current process. */
export function processContext(values: ParsedArgs['values']): CommandContext {
  const noColor = values['no-color'] === true;
  return {
    env: process.env,
    cwd: process.cwd(),
    color: !noColor && supportsColor(process.stdout),
    errorColor: !noColor && supportsColor(process.stderr),
    tty: process.stdout.isTTY === true,
    out: (text) => {
      process.stdout.write(text);
    },
    err: (text) => {
      process.stderr.write(text);
    },
  };
}

/** Opens the store named by `--store`, `ASM_STORE`, or the default SQLite file. */
export function openStoreFromArgs(values: ParsedArgs['values'], context: CommandContext): Promise<OpenStore> {
  return openStore(parseStoreSpec(stringOption(values, 'store'), context.env));
}

/**
 * Calls `handler` on the first SIGINT or SIGTERM (Ctrl-C); a second one exits at once with 130.
 * Returns a function that removes the handlers.
 */
export function onInterrupt(handler: (signal: NodeJS.Signals) => void): () => void {
  let interrupted = false;
  const listener = (signal: NodeJS.Signals) => {
    if (interrupted) process.exit(130);
    interrupted = true;
    handler(signal);
  };
  process.on('SIGINT', listener);
  process.on('SIGTERM', listener);
  return () => {
    process.off('SIGINT', listener);
    process.off('SIGTERM', listener);
  };
}
