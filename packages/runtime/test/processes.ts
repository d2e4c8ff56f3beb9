import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** A fixture running in its own Node.js process (tsx on the workspace sources), driven by lines. */
export interface ChildInstance {
  readonly child: ChildProcessWithoutNullStreams;
  /** Every line printed so far, parsed as `<kind> <json>`. */
  readonly lines: { kind: string; data: Record<string, unknown> }[];
  /** Resolves with the data of the first line of `kind` (not consumed before) matching `match`. */
  next(kind: string, match?: (data: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
  send(command: Record<string, unknown>): void;
  /** Resolves with the exit code (or signal). */
  readonly exited: Promise<number | string | null>;
  kill(): void;
}

/** Spawns `node --conditions=@asm/source --import tsx test/fixtures/<name> ...args`. */
export function spawnInstance(name: string, args: string[]): ChildInstance {
  const script = fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
  const cwd = fileURLToPath(new URL('..', import.meta.url));
  const child = spawn(process.execPath, ['--conditions=@asm/source', '--import', 'tsx', script, ...args], {
    cwd,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const lines: { kind: string; data: Record<string, unknown> }[] = [];
  const consumed = new Set<number>();
  const wakers = new Set<() => void>();
  let stderr = '';
  let ended = false;
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  createInterface({ input: child.stdout }).on('line', (text) => {
    const space = text.indexOf(' ');
    const kind = space < 0 ? text : text.slice(0, space);
    let data: Record<string, unknown> = {};
    try {
      data = space < 0 ? {} : (JSON.parse(text.slice(space + 1)) as Record<string, unknown>);
    } catch {
      data = { text };
    }
    lines.push({ kind, data });
    for (const wake of [...wakers]) wake();
  });
  const exited = new Promise<number | string | null>((resolve) => {
    child.on('exit', (code, signal) => {
      ended = true;
      for (const wake of [...wakers]) wake();
      resolve(code ?? signal);
    });
  });
  return {
    child,
    lines,
    exited,
    send: (command) => child.stdin.write(`${JSON.stringify(command)}\n`),
    kill: () => {
      if (!ended) child.kill('SIGKILL');
    },
    next: (kind, match = () => true) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const index = lines.findIndex(
            (line, position) => !consumed.has(position) && line.kind === kind && match(line.data),
          );
          if (index >= 0) {
            consumed.add(index);
            wakers.delete(check);
            resolve(lines[index]!.data);
          } else if (ended) {
            wakers.delete(check);
            reject(new Error(`${name} exited before printing "${kind}": ${stderr.slice(-2_000)}`));
          }
        };
        wakers.add(check);
        check();
      }),
  };
}
