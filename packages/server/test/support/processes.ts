/** Starts `child-server.ts` in its own process (group), and stops or kills it. */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { ChildConfig } from './child-server.js';

const packageRoot = fileURLToPath(new URL('../../', import.meta.url));

/** A running server process. */
export interface ChildServer {
  readonly url: string;
  readonly process: ChildProcess;
  /** SIGTERM: the server closes cleanly. */
  stop(): Promise<void>;
  /** SIGKILL to the whole process group (tsx and node): a crash. */
  kill(): Promise<void>;
}

const running = new Set<ChildServer>();

/** Starts a server process; resolves once it printed `READY <url>`. */
export async function startChild(config: ChildConfig, timeoutMs = 90_000): Promise<ChildServer> {
  const child = spawn(
    join(packageRoot, 'node_modules', '.bin', 'tsx'),
    ['--conditions=@asm/source', join(packageRoot, 'test', 'support', 'child-server.ts')],
    {
      cwd: packageRoot,
      env: { ...process.env, ASM_CHILD_CONFIG: JSON.stringify(config) },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    },
  );
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4_000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`child server did not start: ${stderr}`)), timeoutMs);
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      if (line.startsWith('READY ')) {
        clearTimeout(timer);
        resolve(line.slice('READY '.length).trim());
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`child server exited with ${code}: ${stderr}`));
    });
  });
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // already gone
    }
  };
  const server: ChildServer = {
    url,
    process: child,
    async stop() {
      running.delete(server);
      signalGroup('SIGTERM');
      const timer = setTimeout(() => signalGroup('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
      signalGroup('SIGKILL');
    },
    async kill() {
      running.delete(server);
      signalGroup('SIGKILL');
      await exited;
    },
  };
  running.add(server);
  return server;
}

/** Kills every child still running (for `afterAll`). */
export async function killAllChildren(): Promise<void> {
  await Promise.all([...running].map((server) => server.kill()));
}
