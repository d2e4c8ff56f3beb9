#!/usr/bin/env node
// Packaging check: proves, from outside the workspace, what a user of the published packages gets.
// `pnpm test` runs it after the build (step "packaging"); on its own: `pnpm build && pnpm pack:check`.
//
//  1. manifests: every public package under packages/ has the metadata a published package needs;
//  2. pack: `pnpm pack` of every public package (the .pnpmfile.cjs hook strips `@asm/source`);
//  3. tarballs: no source condition, `types` first, no `workspace:` ranges, no src/, sizes printed;
//     publint (warnings are errors) on every tarball;
//  4. attw (the CLI's `--profile esm-only`: node16-from-ESM and bundler resolution) on every tarball;
//  5. a scratch project in os.tmpdir() installs only the @asm/core, @asm/sqlite and @asm/claude
//     tarballs with npm: no pg, ioredis, openai, Codex or Claude Code; its installed size is printed;
//     a consumer .ts file type-checks under NodeNext and Bundler resolution, and, compiled, runs a
//     session on SQLite against the fake Anthropic server (started by a separate harness directory
//     that uses @asm/core + @asm/testing, so the consumer's node_modules stays honest);
//  6. examples/third-party-provider, copied next to it, installs the @asm/core and @asm/testing
//     tarballs and runs its own tests (testProviderAdapter against its fake server) and tsc.
//
// better-sqlite3 has no reachable prebuilt binary here and compiles in about 100 s. Its install
// script (prebuild-install) first looks for a "local prebuild"
// (npm_config_better_sqlite3_local_prebuilds): we hand it the binary the workspace already built for
// the same version, Node ABI and platform, packed under the name prebuild-install would download.
// The install path is the one users take (install script, binary check); only the download is local.
//
// Flags: --keep leaves the scratch directory in place.
import { spawn } from 'node:child_process';
import {
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

const root = fileURLToPath(new URL('..', import.meta.url));
const keep = process.argv.includes('--keep');
const started = Date.now();
const failures = [];
const timings = [];

/** The three packages of the "install only what you use" project. */
const CONSUMER_PACKAGES = ['@asm/core', '@asm/sqlite', '@asm/claude'];
/** Packages that must not reach that project: other stores' drivers, other providers' SDKs and binaries. */
const FORBIDDEN_PACKAGES = [
  /^pg$/,
  /^ioredis$/,
  /^openai$/,
  /^@openai\/codex/, // @openai/codex-sdk and the @openai/codex CLI with its platform binaries
  /^@anthropic-ai\/claude-agent-sdk/,
  /^@anthropic-ai\/claude-code/,
];
const FORBIDDEN_BINARIES = ['codex', 'claude'];

function elapsed(since = started) {
  return `${((Date.now() - since) / 1000).toFixed(1)} s`;
}

function fail(message) {
  failures.push(message);
  console.error(`FAIL ${message}`);
}

async function phase(name, body) {
  const phaseStarted = Date.now();
  console.log(`\n--- ${name}`);
  try {
    await body();
  } catch (error) {
    fail(`${name}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  }
  timings.push([name, Date.now() - phaseStarted]);
  console.log(`--- ${name}: ${elapsed(phaseStarted)}`);
}

/** Environment for npm in the scratch projects: without the variables pnpm sets for its scripts. */
function npmEnvironment(extra = {}) {
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(npm_package_|npm_lifecycle_|pnpm_config_|PNPM_)/i.test(key)) continue;
    if (
      ['npm_config_user_agent', 'npm_config_verify_deps_before_run', 'npm_command', 'npm_execpath'].includes(
        key,
      )
    )
      continue;
    if (['npm_node_execpath', 'INIT_CWD'].includes(key)) continue;
    env[key] = value;
  }
  return {
    ...env,
    npm_config_nodedir: env.npm_config_nodedir ?? '/usr',
    npm_config_update_notifier: 'false',
    npm_config_fund: 'false',
    npm_config_audit: 'false',
    ...extra,
  };
}

/** Runs a command, capturing its output; rejects with the output when it fails. */
function run(command, args, { cwd = root, env = process.env, timeoutMs = 600_000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr.on('data', (chunk) => {
      output += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(output);
      else {
        const error = new Error(
          `${command} ${args.join(' ')} (in ${cwd}) exited with ${code ?? signal}\n${output.trim()}`,
        );
        error.output = output;
        reject(error);
      }
    });
  });
}

function readJson(file) {
  return JSON.parse(readFileSync(file, 'utf8'));
}

function formatBytes(bytes) {
  if (bytes >= 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  return `${(bytes / 1024).toFixed(1)} kB`;
}

/** The files of a .tgz: path inside `package/` -> contents. Handles ustar prefixes and pax paths. */
function readTarball(file) {
  const data = gunzipSync(readFileSync(file));
  const files = new Map();
  let offset = 0;
  let paxPath;
  const text = (start, length) =>
    data
      .subarray(start, start + length)
      .toString('utf8')
      .replace(/\0.*$/s, '');
  while (offset + 512 <= data.length) {
    const header = data.subarray(offset, offset + 512);
    if (header.every((byte) => byte === 0)) break;
    const name = text(offset, 100);
    const size = Number.parseInt(text(offset + 124, 12).trim() || '0', 8);
    const type = String.fromCharCode(header[156] || 48);
    const prefix = text(offset + 345, 155);
    const body = data.subarray(offset + 512, offset + 512 + size);
    if (type === 'x') {
      const match = /\d+ path=([^\n]*)\n/.exec(body.toString('utf8'));
      paxPath = match?.[1];
    } else if (type === '0' || type === '\0') {
      const path = paxPath ?? (prefix ? `${prefix}/${name}` : name);
      files.set(path.replace(/^package\//, ''), body);
      paxPath = undefined;
    } else {
      paxPath = undefined;
    }
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  return files;
}

/** Size of a directory tree in bytes (files and symlinks themselves, links not followed). */
function treeSize(path, skip = () => false) {
  const stats = lstatSync(path);
  if (!stats.isDirectory()) return stats.size;
  let total = 0;
  for (const entry of readdirSync(path)) {
    const child = join(path, entry);
    if (skip(child)) continue;
    total += treeSize(child, skip);
  }
  return total;
}

// ---------------------------------------------------------------------------------------------

const publicPackages = readdirSync(join(root, 'packages'))
  .filter((dir) => existsSync(join(root, 'packages', dir, 'package.json')))
  .map((dir) => ({ dir, manifest: readJson(join(root, 'packages', dir, 'package.json')) }))
  .filter(({ manifest }) => manifest.private !== true)
  .sort((a, b) => a.manifest.name.localeCompare(b.manifest.name));
const coreVersion = publicPackages.find(({ manifest }) => manifest.name === '@asm/core')?.manifest.version;

function checkSourceManifest({ dir, manifest }, repositoryUrls) {
  const problems = [];
  const expect = (condition, message) => {
    if (!condition) problems.push(message);
  };
  expect(manifest.name?.startsWith('@asm/'), 'name in the @asm scope');
  expect(typeof manifest.version === 'string', 'version');
  expect(typeof manifest.description === 'string' && manifest.description.length > 0, 'description');
  expect(manifest.type === 'module', '"type": "module"');
  expect(typeof manifest.license === 'string', 'license');
  expect(manifest.sideEffects === false, '"sideEffects": false');
  expect(typeof manifest.engines?.node === 'string', 'engines.node');
  expect(manifest.publishConfig?.access === 'public', 'publishConfig.access "public"');
  expect(manifest.repository?.type === 'git' && typeof manifest.repository?.url === 'string', 'repository');
  expect(manifest.repository?.directory === `packages/${dir}`, `repository.directory "packages/${dir}"`);
  if (manifest.repository?.url) repositoryUrls.add(manifest.repository.url);
  expect(Array.isArray(manifest.files) && manifest.files.includes('dist'), 'files includes "dist"');
  expect(!manifest.files?.includes('src'), 'files without "src" (dist carries the code and its source maps)');
  expect(typeof manifest.exports === 'object' && manifest.exports?.['.'] !== undefined, 'exports["."]');
  expect(existsSync(join(root, 'packages', dir, 'README.md')), 'README.md');
  if (manifest.name !== '@asm/core') {
    expect(typeof manifest.peerDependencies?.['@asm/core'] === 'string', '@asm/core in peerDependencies');
    expect(
      manifest.dependencies?.['@asm/core'] === undefined,
      '@asm/core not in dependencies (one copy of core)',
    );
  }
  for (const [subpath, target] of Object.entries(manifest.exports ?? {})) {
    if (typeof target !== 'object' || target === null) continue;
    const keys = Object.keys(target).filter((key) => key !== '@asm/source');
    expect(keys[0] === 'types', `exports["${subpath}"]: "types" first after "@asm/source"`);
  }
  return problems;
}

function checkPackedManifest(name, manifest, files) {
  const problems = [];
  const expect = (condition, message) => {
    if (!condition) problems.push(message);
  };
  const exportsJson = JSON.stringify(manifest.exports ?? {});
  expect(!exportsJson.includes('@asm/source'), 'no "@asm/source" condition in the published exports');
  const checkTargets = (label, target) => {
    if (typeof target === 'string') {
      const file = target.replace(/^\.\//, '');
      if (!file.includes('*')) expect(files.has(file), `${label}: ${file} is in the tarball`);
    } else if (target !== null && typeof target === 'object') {
      for (const [key, value] of Object.entries(target)) checkTargets(`${label}.${key}`, value);
    }
  };
  for (const [subpath, target] of Object.entries(manifest.exports ?? {})) {
    if (typeof target === 'string') {
      // A plain path is fine for assets (package.json, CSS, static files), not for code: code needs types.
      expect(
        !/\.[cm]?js$/.test(target),
        `exports["${subpath}"]: code needs { "types", "import" } conditions`,
      );
    } else if (target !== null && typeof target === 'object') {
      expect(Object.keys(target)[0] === 'types', `exports["${subpath}"]: "types" first`);
    }
    checkTargets(`exports["${subpath}"]`, target);
  }
  for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies']) {
    for (const [dependency, range] of Object.entries(manifest[field] ?? {})) {
      expect(!String(range).startsWith('workspace:'), `${field}.${dependency} has no workspace: range`);
    }
  }
  if (name !== '@asm/core') {
    expect(
      manifest.peerDependencies?.['@asm/core'] === `^${coreVersion}`,
      `peerDependencies["@asm/core"] is ^${coreVersion} (got ${manifest.peerDependencies?.['@asm/core']})`,
    );
  }
  expect(![...files.keys()].some((file) => file.startsWith('src/')), 'no src/ in the tarball');
  expect(files.has('README.md'), 'README.md in the tarball');
  return problems;
}

// ---------------------------------------------------------------------------------------------

const work = mkdtempSync(join(tmpdir(), 'asm-pack-check-'));
const tarballDir = join(work, 'tarballs');
mkdirSync(tarballDir);
/** name -> { file, manifest, files } */
const tarballs = new Map();

console.log(`Packaging check of ${publicPackages.length} public packages, scratch directory ${work}`);

await phase('manifests', async () => {
  const repositoryUrls = new Set();
  for (const entry of publicPackages) {
    const problems = checkSourceManifest(entry, repositoryUrls);
    if (problems.length > 0) fail(`packages/${entry.dir}/package.json needs: ${problems.join('; ')}`);
  }
  if (repositoryUrls.size > 1) fail(`packages disagree on repository.url: ${[...repositoryUrls].join(', ')}`);
  if (!coreVersion) fail('no @asm/core package');
  console.log(`${publicPackages.length} manifests checked`);
});

await phase('pack', async () => {
  const filters = publicPackages.flatMap(({ manifest }) => ['--filter', manifest.name]);
  const output = await run('pnpm', [
    ...filters,
    '--recursive',
    'pack',
    '--pack-destination',
    tarballDir,
    '--json',
  ]);
  const packed = JSON.parse(output.slice(output.indexOf('[')));
  for (const entry of packed) {
    tarballs.set(entry.name, { file: entry.filename, version: entry.version });
  }
  for (const { manifest } of publicPackages) {
    if (!tarballs.has(manifest.name)) fail(`pnpm pack produced no tarball for ${manifest.name}`);
  }
});

await phase('tarballs and publint', async () => {
  const { publint } = await import('publint');
  const { formatMessage } = await import('publint/utils');
  const rows = [];
  for (const [name, tarball] of tarballs) {
    const files = readTarball(tarball.file);
    const manifest = JSON.parse(files.get('package.json').toString('utf8'));
    tarball.manifest = manifest;
    tarball.files = files;
    const problems = checkPackedManifest(name, manifest, files);
    if (problems.length > 0) fail(`${basename(tarball.file)}: ${problems.join('; ')}`);

    const buffer = readFileSync(tarball.file);
    const arrayBuffer = buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength);
    const result = await publint({ pack: { tarball: arrayBuffer }, level: 'suggestion', strict: true });
    for (const message of result.messages) {
      const text = `${message.type}: ${formatMessage(message, result.pkg) ?? message.code}`;
      if (message.type === 'suggestion') console.log(`publint ${name}: ${text}`);
      else fail(`publint ${name}: ${text}`);
    }
    const unpacked = [...files.values()].reduce((sum, body) => sum + body.length, 0);
    rows.push([`${name}@${manifest.version}`, lstatSync(tarball.file).size, unpacked, files.size]);
  }
  const width = Math.max(...rows.map(([label]) => label.length));
  console.log(`${'tarball'.padEnd(width)}  ${'packed'.padStart(9)}  ${'unpacked'.padStart(9)}  files`);
  for (const [label, packed, unpacked, count] of rows) {
    console.log(
      `${label.padEnd(width)}  ${formatBytes(packed).padStart(9)}  ${formatBytes(unpacked).padStart(9)}  ${count}`,
    );
  }
  const total = rows.reduce((sum, [, packed]) => sum + packed, 0);
  console.log(`${'total'.padEnd(width)}  ${formatBytes(total).padStart(9)}`);
  console.log(`publint: ${rows.length} tarballs, no errors or warnings`);
});

// attw runs in this process (one TypeScript load for every tarball) while the npm installs, which
// mostly wait on the registry, run beside it.
const attwDone = phase('attw (node16 from ESM + bundler)', async () => {
  const attw = await import('@arethetypeswrong/core');
  // The CLI's `--profile esm-only`: our packages are ESM only, so `require` (node16-cjs) and the
  // pre-exports node10 resolution are out of scope; node16-from-ESM and bundler are checked.
  const ignoredResolutions = ['node10', 'node16-cjs'];
  let passed = 0;
  for (const [name, { file }] of tarballs) {
    const analysis = await attw.checkPackage(
      attw.createPackageFromTarballData(new Uint8Array(readFileSync(file))),
    );
    if (!analysis.types) {
      fail(`attw ${name}: no types found`);
      continue;
    }
    const problems = analysis.problems.filter(
      (problem) => !('resolutionKind' in problem) || !ignoredResolutions.includes(problem.resolutionKind),
    );
    for (const problem of problems) {
      const where = [problem.entrypoint, problem.resolutionKind].filter(Boolean).join(' / ');
      fail(
        `attw ${name}: ${problem.kind}${where ? ` (${where})` : ''}; run: npx attw ${file} --profile esm-only`,
      );
    }
    if (problems.length === 0) passed++;
    // Yield between packages so the installs' output is handled.
    await new Promise((resolve) => setImmediate(resolve));
  }
  console.log(
    `attw: ${passed} of ${tarballs.size} tarballs resolve with types under node16 (ESM) and bundler`,
  );
});

const tarballOf = (name) => {
  const tarball = tarballs.get(name);
  if (!tarball) throw new Error(`no tarball for ${name}`);
  return tarball.file;
};

/** Packs the workspace's better-sqlite3 binary the way prebuild-install names its downloads. */
function localPrebuild() {
  const requireFromSqlite = createRequire(join(root, 'packages', 'sqlite', 'package.json'));
  const packageDir = dirname(requireFromSqlite.resolve('better-sqlite3/package.json'));
  const version = readJson(join(packageDir, 'package.json')).version;
  const binary = join(packageDir, 'build', 'Release', 'better_sqlite3.node');
  if (!existsSync(binary)) throw new Error(`the workspace has no built better-sqlite3 binary at ${binary}`);
  const directory = join(work, 'prebuilds');
  mkdirSync(directory, { recursive: true });
  const name = `better-sqlite3-v${version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`;
  return { directory, version, name, packageDir };
}

const workspaceVersion = (name) =>
  readJson(createRequire(join(root, 'packages', 'sqlite', 'package.json')).resolve(`${name}/package.json`))
    .version;
const consumerDir = join(work, 'consumer');
const harnessDir = join(work, 'harness');
const exampleDir = join(work, 'third-party-provider');
let betterSqlite;
/** False when an install failed: the phases that need the projects then stop at once. */
let installed = false;

const installsDone = phase('npm install (consumer, example)', async () => {
  betterSqlite = localPrebuild();
  await run('tar', [
    '-czf',
    join(betterSqlite.directory, betterSqlite.name),
    '-C',
    betterSqlite.packageDir,
    'build/Release/better_sqlite3.node',
  ]);

  // The consumer: only the three tarballs (npm installs their dependencies and peers), plus, as
  // devDependencies, the type packages a TypeScript user of Node and better-sqlite3 adds (the
  // workspace's versions). The installed size below leaves those out.
  cpSync(join(root, 'scripts', 'pack-check', 'consumer'), consumerDir, { recursive: true });
  writeFileSync(
    join(consumerDir, 'package.json'),
    `${JSON.stringify(
      {
        name: 'asm-three-packages',
        private: true,
        type: 'module',
        dependencies: Object.fromEntries(CONSUMER_PACKAGES.map((name) => [name, `file:${tarballOf(name)}`])),
        devDependencies: Object.fromEntries(
          ['@types/better-sqlite3', '@types/node'].map((name) => [name, workspaceVersion(name)]),
        ),
      },
      null,
      2,
    )}\n`,
  );

  // The harness: the fake servers of @asm/testing, in a directory of its own. Its node_modules is a
  // link to the example's, which holds @asm/core and @asm/testing from the same tarballs (one npm
  // install less); the consumer's node_modules never sees them.
  cpSync(join(root, 'scripts', 'pack-check', 'harness'), harnessDir, { recursive: true });

  // The third-party example, copied without its local installs; its package.json points at
  // packs/asm-core.tgz and packs/asm-testing.tgz.
  const exampleSource = join(root, 'examples', 'third-party-provider');
  cpSync(exampleSource, exampleDir, {
    recursive: true,
    filter: (source) => !/[/\\](node_modules|packs|out|package-lock\.json)$/.test(source),
  });
  mkdirSync(join(exampleDir, 'packs'));
  cpSync(tarballOf('@asm/core'), join(exampleDir, 'packs', 'asm-core.tgz'));
  cpSync(tarballOf('@asm/testing'), join(exampleDir, 'packs', 'asm-testing.tgz'));

  const env = npmEnvironment({ npm_config_better_sqlite3_local_prebuilds: betterSqlite.directory });
  const install = async (label, cwd) => {
    const installStarted = Date.now();
    await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], {
      cwd,
      env,
    });
    console.log(`npm install ${label}: ${elapsed(installStarted)}`);
  };
  await Promise.all([
    install('consumer (@asm/core, @asm/sqlite, @asm/claude)', consumerDir),
    install('examples/third-party-provider', exampleDir),
  ]);
  symlinkSync(join(exampleDir, 'node_modules'), join(harnessDir, 'node_modules'), 'dir');
  installed = true;
});

await Promise.all([attwDone, installsDone]);

await phase('three-package project: what got installed', async () => {
  if (!installed) return console.log('not run: an install failed');
  const lock = readJson(join(consumerDir, 'package-lock.json'));
  const entries = Object.entries(lock.packages).filter(([path]) => path.startsWith('node_modules/'));
  const nameOf = (path) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
  const names = entries.map(([path]) => nameOf(path));
  for (const name of names) {
    if (FORBIDDEN_PACKAGES.some((pattern) => pattern.test(name)))
      fail(`the consumer project installed ${name}`);
  }
  for (const binary of FORBIDDEN_BINARIES) {
    if (existsSync(join(consumerDir, 'node_modules', '.bin', binary))) {
      fail(`the consumer project has a ${binary} binary`);
    }
  }
  for (const name of CONSUMER_PACKAGES) {
    if (!names.includes(name)) fail(`the consumer project is missing ${name}`);
  }
  const asmPackages = names.filter((name) => name.startsWith('@asm/'));
  if (asmPackages.length !== CONSUMER_PACKAGES.length) {
    fail(`the consumer project holds other @asm packages: ${asmPackages.join(', ')}`);
  }

  const installedBetterSqlite = lock.packages['node_modules/better-sqlite3']?.version;
  const compiled = existsSync(join(consumerDir, 'node_modules', 'better-sqlite3', 'build', 'Release', 'obj'));
  console.log(
    `better-sqlite3 ${installedBetterSqlite}: ${
      compiled
        ? 'compiled from source'
        : `prebuilt binary from the local prebuild of the workspace's ${betterSqlite.version}`
    }`,
  );

  // Installed size: every package directory (its nested node_modules counted as their own entries),
  // without what only the devDependencies brought (flagged dev or devOptional in the lockfile).
  const development = entries
    .filter(([, entry]) => entry.dev || entry.devOptional)
    .map(([path]) => nameOf(path));
  const unexpected = development.filter((name) => !name.startsWith('@types/') && name !== 'undici-types');
  if (unexpected.length > 0) fail(`the type packages brought more than types: ${unexpected.join(', ')}`);
  const runtimeEntries = entries.filter(([, entry]) => !entry.dev && !entry.devOptional);
  const sizeOf = (path) => treeSize(join(consumerDir, path), (child) => basename(child) === 'node_modules');
  const sized = runtimeEntries.map(([path]) => [nameOf(path), sizeOf(path)]).sort((a, b) => b[1] - a[1]);
  const total = sized.reduce((sum, [, size]) => sum + size, 0);
  console.log(
    `installed: ${sized.length} packages, ${formatBytes(total)} for @asm/core + @asm/sqlite + @asm/claude ` +
      `and their dependencies (not counting ${development.join(', ')} for the type-check)`,
  );
  console.log(
    `largest: ${sized
      .slice(0, 6)
      .map(([name, size]) => `${name} ${formatBytes(size)}`)
      .join(', ')}`,
  );
  console.log(
    `packages: ${sized
      .map(([name]) => name)
      .sort()
      .join(', ')}`,
  );
  console.log(
    'none of pg, ioredis, openai, @openai/codex*, @anthropic-ai/claude-agent-sdk, claude-code installed',
  );
});

const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
await phase('three-package project: tsc NodeNext + Bundler', async () => {
  if (!installed) return console.log('not run: an install failed');
  const results = await Promise.allSettled([
    run(process.execPath, [tsc, '-p', 'tsconfig.nodenext.json'], { cwd: consumerDir }),
    run(process.execPath, [tsc, '-p', 'tsconfig.bundler.json'], { cwd: consumerDir }),
  ]);
  for (const [index, result] of results.entries()) {
    if (result.status === 'rejected')
      fail(`tsc ${index === 0 ? 'NodeNext' : 'Bundler'}: ${result.reason.message}`);
  }
  if (results.every((result) => result.status === 'fulfilled')) {
    console.log('src/main.ts type-checks under NodeNext (compiled to out/) and under Bundler resolution');
  }
});

await phase('three-package project: a session against the fake Anthropic server', async () => {
  if (!installed) return console.log('not run: an install failed');
  const output = await run(
    process.execPath,
    [join(harnessDir, 'run-with-fake-anthropic.mjs'), join(consumerDir, 'out', 'main.js')],
    {
      cwd: consumerDir,
    },
  );
  console.log(output.trim());
});

await phase('examples/third-party-provider: tests and tsc', async () => {
  if (!installed) return console.log('not run: an install failed');
  const env = npmEnvironment({ NO_COLOR: '1', FORCE_COLOR: '0' });
  const results = await Promise.allSettled([
    run('npm', ['test'], { cwd: exampleDir, env }),
    run('npm', ['run', 'typecheck'], { cwd: exampleDir, env }),
  ]);
  const [tests, typecheck] = results;
  if (tests.status === 'rejected') fail(`examples/third-party-provider tests: ${tests.reason.message}`);
  else {
    const summary = /^\s*Tests\s+(.*)$/m.exec(tests.value)?.[1]?.trim() ?? '';
    console.log(`vitest: ${summary}`);
    if (!/^\d+ passed \(\d+\)$/.test(summary)) fail(`examples/third-party-provider tests: ${summary}`);
  }
  if (typecheck.status === 'rejected') fail(`examples/third-party-provider tsc: ${typecheck.reason.message}`);
  else console.log('tsc --noEmit: ok');
});

if (!keep) rmSync(work, { recursive: true, force: true });
else console.log(`\nscratch directory kept: ${work}`);

console.log(
  `\npacking check: ${timings.map(([name, ms]) => `${name} ${(ms / 1000).toFixed(1)} s`).join(', ')}`,
);
if (failures.length > 0) {
  console.error(`\npacking check FAILED (${failures.length}) in ${elapsed()}`);
  for (const failure of failures) console.error(`- ${failure.split('\n')[0]}`);
  process.exit(1);
}
console.log(`packing check passed in ${elapsed()}`);
