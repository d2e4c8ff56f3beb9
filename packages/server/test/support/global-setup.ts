/**
 * Builds the dashboard (`dist/ui`) before the tests when it is missing or older than its sources, so
 * the tests always exercise the files the package ships. `turbo run build` has usually done it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const packageRoot = fileURLToPath(new URL('../../', import.meta.url));

function newestMtime(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const name of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, name)));
  return newest;
}

export default function setup(): void {
  const built = join(packageRoot, 'dist', 'ui', 'index.html');
  const sources = newestMtime(join(packageRoot, 'ui'));
  if (existsSync(built) && statSync(built).mtimeMs >= sources) return;
  execFileSync(
    process.execPath,
    [join(packageRoot, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--config', 'ui/vite.config.ts'],
    { cwd: packageRoot, stdio: 'inherit' },
  );
}
