#!/usr/bin/env node
// The one test command: `pnpm test`. Lints, builds, type-checks and runs every package's tests,
// then prints the totals as a closing line ("N passed, N failed").
// With CI=true, PostgreSQL and Redis must be reachable on 127.0.0.1 or the run fails: tests that
// need them never skip in CI.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const inCi = process.env.CI === 'true';

function step(name, command, args) {
  const started = Date.now();
  console.log(`\n=== ${name}: ${command} ${args.join(' ')}`);
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', env: process.env });
  console.log(
    `=== ${name}: ${result.status === 0 ? 'ok' : 'FAILED'} in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  return result.status === 0;
}

function reachable(port) {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(2000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

const services = { PostgreSQL: 5432, Redis: 6379 };
for (const [name, port] of Object.entries(services)) {
  const ok = await reachable(port);
  console.log(`${name} on 127.0.0.1:${port}: ${ok ? 'reachable' : 'NOT reachable'}`);
  if (!ok && inCi) {
    console.error(`${name} must be running in CI (CI=true); .ci/run starts it.`);
    process.exit(1);
  }
}

const packagesDirs = ['packages', 'apps'].flatMap((dir) =>
  existsSync(join(root, dir)) ? readdirSync(join(root, dir)).map((name) => join(root, dir, name)) : [],
);
for (const dir of packagesDirs) rmSync(join(dir, '.vitest-results.json'), { force: true });

let ok = step('lint', 'pnpm', ['exec', 'turbo', 'run', 'lint', '--output-logs=errors-only']);
ok = step('build', 'pnpm', ['exec', 'turbo', 'run', 'build', '--output-logs=errors-only']) && ok;
// What users get from the registry, proved from outside the workspace (packed tarballs, publint, attw,
// a three-package npm project, the third-party example), and independent versioning with changesets.
ok = step('packaging', 'node', ['scripts/pack-check.mjs']) && ok;
ok = step('releases', 'node', ['scripts/release-check.mjs']) && ok;
ok = step('typecheck', 'pnpm', ['exec', 'turbo', 'run', 'typecheck', '--output-logs=errors-only']) && ok;
ok = step('test', 'pnpm', ['exec', 'turbo', 'run', 'test', '--concurrency=1']) && ok;

let passed = 0;
let failed = 0;
let skipped = 0;
for (const dir of packagesDirs) {
  const file = join(dir, '.vitest-results.json');
  if (!existsSync(file)) continue;
  const results = JSON.parse(readFileSync(file, 'utf8'));
  passed += results.numPassedTests ?? 0;
  failed += results.numFailedTests ?? 0;
  skipped += (results.numPendingTests ?? 0) + (results.numTodoTests ?? 0);
}
if (inCi && skipped > 0) {
  console.error(`${skipped} tests were skipped; CI runs every test.`);
  ok = false;
}
if (passed === 0) {
  console.error('No test ran.');
  ok = false;
}
console.log(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(ok && failed === 0 ? 0 : 1);
