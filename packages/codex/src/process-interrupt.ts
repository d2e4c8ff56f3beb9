import { readdirSync, readFileSync } from 'node:fs';

/** The environment variable that marks the CLI process of one run, so it can be found to interrupt it. */
export const RUN_MARKER_ENV = 'ASM_CODEX_RUN_MARKER';

/**
 * Sends SIGINT to this process's children whose environment holds `RUN_MARKER_ENV=<marker>`.
 * Returns how many were signalled (0 where `/proc` is unavailable, as on macOS).
 *
 * Why: `@openai/codex-sdk` stops the CLI with SIGTERM, which ends `codex` but leaves the command it
 * was running (in its own process group) behind as an orphan (verified with `sleep`). On SIGINT the
 * CLI interrupts the turn and stops its commands first. The SDK does not expose the child, so it is
 * found through `/proc`: a direct child of this process carrying the run's marker.
 */
export function interruptMarkedChildren(marker: string): number {
  if (process.platform !== 'linux') return 0;
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return 0;
  }
  const needle = `${RUN_MARKER_ENV}=${marker}`;
  let signalled = 0;
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Fields after the command name (which may contain spaces): state ppid …
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) !== process.pid) continue;
      const environ = readFileSync(`/proc/${entry}/environ`, 'utf8');
      if (!environ.split('\0').includes(needle)) continue;
      process.kill(Number(entry), 'SIGINT');
      signalled++;
    } catch {
      // The process ended meanwhile, or is not ours to read.
    }
  }
  return signalled;
}
