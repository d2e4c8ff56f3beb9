/**
 * A throwaway PostgreSQL cluster for fault tests that stop and restart the server: `initdb` in a temp
 * folder, run as the `postgres` user when the tests run as root, on a free port with its socket in that
 * folder. The shared server on 5432 is never touched.
 */
import { execFile } from 'node:child_process';
import { chownSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A running private cluster. */
export interface PrivateCluster {
  port: number;
  /** `postgres://postgres@127.0.0.1:<port>/postgres`. */
  url: string;
  /** `pg_ctl stop` (`fast`: clients are disconnected; `immediate`: a crash, recovery on start). */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  start(): Promise<void>;
  /** `pg_ctl restart`. */
  restart(mode?: 'fast' | 'immediate'): Promise<void>;
  /** Stops the server (if running) and deletes its folder. */
  remove(): Promise<void>;
}

/** The bin folder of the newest PostgreSQL installed under /usr/lib/postgresql. */
function binFolder(): string {
  const versions = readdirSync('/usr/lib/postgresql')
    .filter((name) => /^\d+$/.test(name))
    .sort((left, right) => Number(right) - Number(left));
  if (versions[0] === undefined) throw new Error('No PostgreSQL under /usr/lib/postgresql');
  return join('/usr/lib/postgresql', versions[0], 'bin');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

/** Creates and starts a private cluster. */
export async function startPrivateCluster(): Promise<PrivateCluster> {
  const bin = binFolder();
  const folder = mkdtempSync(join(tmpdir(), 'asm-pg-cluster-'));
  const data = join(folder, 'data');
  const asRoot = process.getuid?.() === 0;
  if (asRoot) chownSync(folder, ...postgresIds());
  const exec = async (tool: string, args: string[]): Promise<void> => {
    const command = asRoot ? 'runuser' : join(bin, tool);
    const fullArgs = asRoot ? ['-u', 'postgres', '--', join(bin, tool), ...args] : args;
    await run(command, fullArgs, { timeout: 60_000 });
  };
  const port = await freePort();
  const options = `-p ${port} -k ${folder} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off`;
  const pgCtl = (action: string, extra: string[] = []): Promise<void> =>
    exec('pg_ctl', [action, '-D', data, '-o', options, '-l', join(folder, 'server.log'), '-w', ...extra]);

  await exec('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
  await pgCtl('start');
  let running = true;
  return {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async stop(mode = 'fast') {
      await pgCtl('stop', ['-m', mode]);
      running = false;
    },
    async start() {
      await pgCtl('start');
      running = true;
    },
    async restart(mode = 'fast') {
      await pgCtl('restart', ['-m', mode]);
      running = true;
    },
    async remove() {
      try {
        if (running) await pgCtl('stop', ['-m', 'immediate']);
      } finally {
        rmSync(folder, { recursive: true, force: true });
      }
    },
  };
}

function postgresIds(): [number, number] {
  // `id -u postgres` without a child process: read /etc/passwd.
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((entry) => entry.startsWith('postgres:'));
  const fields = line?.split(':');
  if (fields === undefined || fields[2] === undefined || fields[3] === undefined) {
    throw new Error('No postgres user in /etc/passwd');
  }
  return [Number(fields[2]), Number(fields[3])];
}
