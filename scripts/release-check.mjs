#!/usr/bin/env node
// Independent releases, checked: `pnpm test` runs this after the build (step "releases").
//
// For each scenario it copies the repository's package.json files, pnpm-workspace.yaml and
// .changeset/config.json (not the pending changesets) to a temporary directory, adds one changeset,
// runs the real `changeset version` there, and checks that
// - the package named in the changeset is bumped as asked;
// - a package that depends on it (dependencies or peerDependencies, through `workspace:` ranges) is
//   bumped exactly when the new version leaves the range it would be published with (`workspace:^`
//   becomes `^<version>` at publish time), transitively; a major bump for a peer dependency,
//   a patch otherwise; devDependencies never bump anything;
// - nothing else changes version, private packages never do;
// - every bumped package, and only those, gets its own CHANGELOG.md.
import { spawn } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const started = Date.now();
const failures = [];
const changesetBin = join(root, 'node_modules', '.bin', 'changeset');
const RUNTIME_FIELDS = ['dependencies', 'peerDependencies', 'optionalDependencies'];

function readJson(file) {
  return JSON.parse(readFileSync(file, 'utf8'));
}

function check(condition, message) {
  if (!condition) failures.push(message);
  return condition;
}

// Minimal semver for the ranges the workspace uses (`workspace:^`, `workspace:~`, `workspace:*`).
function parse(version) {
  const match = /^(\d+)\.(\d+)\.(\d+)/.exec(version);
  if (!match) throw new Error(`unreadable version ${version}`);
  return match.slice(1, 4).map(Number);
}

function increment(version, type) {
  const [major, minor, patch] = parse(version);
  if (type === 'major') return `${major + 1}.0.0`;
  if (type === 'minor') return `${major}.${minor + 1}.0`;
  return `${major}.${minor}.${patch + 1}`;
}

function compare(left, right) {
  const a = parse(left);
  const b = parse(right);
  for (let index = 0; index < 3; index++) if (a[index] !== b[index]) return a[index] - b[index];
  return 0;
}

/** True when `version` satisfies the range a `workspace:` specifier publishes as, for `base`. */
function satisfiesWorkspaceRange(version, specifier, base) {
  const kind = specifier.replace(/^workspace:/, '');
  const [major, minor, patch] = parse(base);
  if (compare(version, base) < 0) return false;
  const [vMajor, vMinor, vPatch] = parse(version);
  if (kind === '*' || /^\d/.test(kind)) return version === base; // workspace:* publishes the exact version
  if (kind === '~') return vMajor === major && vMinor === minor;
  if (kind === '^') {
    if (major > 0) return vMajor === major;
    if (minor > 0) return vMajor === 0 && vMinor === minor;
    return vMajor === 0 && vMinor === 0 && vPatch === patch;
  }
  throw new Error(`unsupported workspace range ${specifier}`);
}

/** Every workspace package: relative dir, manifest. */
function workspacePackages() {
  const dirs = [];
  for (const parent of ['packages', 'apps']) {
    if (!existsSync(join(root, parent))) continue;
    for (const name of readdirSync(join(root, parent))) dirs.push(`${parent}/${name}`);
  }
  dirs.push('bench');
  return dirs
    .filter((dir) => existsSync(join(root, dir, 'package.json')))
    .map((dir) => ({ dir, manifest: readJson(join(root, dir, 'package.json')) }));
}

/** What the policy says `changeset version` must do, computed from the dependency graph. */
function expectedReleases(packages, config, seeds) {
  const ignored = new Set(config.ignore ?? []);
  const releasable = (manifest) => manifest.private !== true && !ignored.has(manifest.name);
  const byName = new Map(packages.map((entry) => [entry.manifest.name, entry.manifest]));
  const releases = new Map(); // name -> type
  const rank = { patch: 1, minor: 2, major: 3 };
  const queue = [];
  const raise = (name, type) => {
    const current = releases.get(name);
    if (current && rank[current] >= rank[type]) return;
    releases.set(name, type);
    queue.push(name);
  };
  for (const [name, type] of Object.entries(seeds)) raise(name, type);
  while (queue.length > 0) {
    const name = queue.shift();
    const type = releases.get(name);
    const dependency = byName.get(name);
    const next = increment(dependency.version, type);
    for (const dependent of packages.map((entry) => entry.manifest)) {
      if (!releasable(dependent)) continue;
      for (const field of RUNTIME_FIELDS) {
        const specifier = dependent[field]?.[name];
        if (typeof specifier !== 'string' || !specifier.startsWith('workspace:')) continue;
        if (satisfiesWorkspaceRange(next, specifier, dependency.version)) continue;
        raise(dependent.name, field === 'peerDependencies' && type !== 'patch' ? 'major' : 'patch');
      }
    }
  }
  return new Map([...releases].map(([name, type]) => [name, increment(byName.get(name).version, type)]));
}

function run(command, args, cwd) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr.on('data', (chunk) => {
      output += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve(output)
        : reject(new Error(`${command} ${args.join(' ')} exited with ${code}\n${output}`)),
    );
  });
}

/** Copies the release-relevant files of the repository to a temporary directory. */
function copyRepository(packages) {
  const directory = mkdtempSync(join(tmpdir(), 'asm-release-check-'));
  cpSync(join(root, 'package.json'), join(directory, 'package.json'));
  cpSync(join(root, 'pnpm-workspace.yaml'), join(directory, 'pnpm-workspace.yaml'));
  mkdirSync(join(directory, '.changeset'));
  cpSync(join(root, '.changeset', 'config.json'), join(directory, '.changeset', 'config.json'));
  for (const { dir, manifest } of packages) {
    mkdirSync(join(directory, dir), { recursive: true });
    writeFileSync(join(directory, dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  }
  return directory;
}

async function scenario(label, packages, config, seeds, { versions = {}, expect = () => {} } = {}) {
  const adjusted = packages.map(({ dir, manifest }) => ({
    dir,
    manifest: versions[manifest.name] ? { ...manifest, version: versions[manifest.name] } : manifest,
  }));
  const directory = copyRepository(adjusted);
  try {
    const lines = Object.entries(seeds).map(([name, type]) => `"${name}": ${type}`);
    writeFileSync(
      join(directory, '.changeset', 'release-check.md'),
      `---\n${lines.join('\n')}\n---\n\nRelease check: ${label}.\n`,
    );
    await run(changesetBin, ['version'], directory);

    const expected = expectedReleases(adjusted, config, seeds);
    const actual = new Map();
    for (const { dir, manifest } of adjusted) {
      const after = readJson(join(directory, dir, 'package.json'));
      if (after.version !== manifest.version) actual.set(manifest.name, after.version);
      const changelog = join(directory, dir, 'CHANGELOG.md');
      if (after.version !== manifest.version) {
        if (check(existsSync(changelog), `${label}: ${manifest.name} was bumped but has no CHANGELOG.md`)) {
          const text = readFileSync(changelog, 'utf8');
          check(
            text.startsWith(`# ${manifest.name}\n`) && text.includes(`## ${after.version}`),
            `${label}: ${dir}/CHANGELOG.md has no "${after.version}" section`,
          );
        }
      } else {
        check(!existsSync(changelog), `${label}: ${manifest.name} was not bumped but got a CHANGELOG.md`);
      }
      if (manifest.private)
        check(after.version === manifest.version, `${label}: private ${manifest.name} bumped`);
    }
    check(!existsSync(join(directory, 'CHANGELOG.md')), `${label}: a root CHANGELOG.md appeared`);
    check(
      !existsSync(join(directory, '.changeset', 'release-check.md')),
      `${label}: changeset version left the changeset in place`,
    );
    const show = (map) =>
      [...map]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([name, version]) => `${name}@${version}`)
        .join(', ') || '(none)';
    check(
      show(actual) === show(expected),
      `${label}: changeset version bumped ${show(actual)}; the policy expects ${show(expected)}`,
    );
    expect(actual);
    console.log(`ok - ${label}: ${show(actual)}`);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

const packages = workspacePackages();
const config = readJson(join(root, '.changeset', 'config.json'));
const publicPackages = packages.filter(({ manifest }) => manifest.private !== true);

// The configuration itself: independent versions, public access, private packages never versioned.
check(config.fixed?.length === 0 && config.linked?.length === 0, 'config: no fixed or linked groups');
check(config.access === 'public', 'config: access public');
check(config.updateInternalDependencies === 'patch', 'config: updateInternalDependencies patch');
check(config.privatePackages?.version === false, 'config: private packages are not versioned');
check(
  config.___experimentalUnsafeOptions_WILL_CHANGE_IN_PATCH?.onlyUpdatePeerDependentsWhenOutOfRange === true,
  'config: peer dependents are bumped only when the new version leaves their range',
);
const rootManifest = readJson(join(root, 'package.json'));
check(
  rootManifest.scripts?.release === 'changeset version && changeset publish',
  'root package.json: release script',
);

const dependentsOf = (name) =>
  publicPackages.filter(({ manifest }) =>
    RUNTIME_FIELDS.some((field) => String(manifest[field]?.[name] ?? '').startsWith('workspace:')),
  );
const leaf = publicPackages.find(({ manifest }) => dependentsOf(manifest.name).length === 0);
const shared = publicPackages.find(
  ({ manifest }) => manifest.name !== '@asm/core' && dependentsOf(manifest.name).length > 0,
);
const core = publicPackages.find(({ manifest }) => manifest.name === '@asm/core');

const jobs = [];
if (check(leaf !== undefined, 'no public package without dependents')) {
  jobs.push(
    scenario(
      `patch of ${leaf.manifest.name}, which nothing depends on`,
      packages,
      config,
      {
        [leaf.manifest.name]: 'patch',
      },
      {
        expect: (actual) =>
          check(
            actual.size === 1 && actual.has(leaf.manifest.name),
            `a patch of ${leaf.manifest.name} bumped other packages`,
          ),
      },
    ),
  );
}
if (check(shared !== undefined, 'no package other than core has dependents')) {
  const dependents = dependentsOf(shared.manifest.name).map(({ manifest }) => manifest.name);
  jobs.push(
    scenario(
      `major of ${shared.manifest.name}, which ${dependents.join(', ')} depend${dependents.length === 1 ? 's' : ''} on`,
      packages,
      config,
      {
        [shared.manifest.name]: 'major',
      },
      {
        expect: (actual) => {
          for (const name of dependents)
            check(actual.has(name), `a major of ${shared.manifest.name} left ${name} alone`);
          check(!actual.has('@asm/core'), `a major of ${shared.manifest.name} bumped @asm/core`);
        },
      },
    ),
  );
}
if (check(core !== undefined, 'no @asm/core')) {
  jobs.push(
    scenario(
      'patch of @asm/core (stays inside every ^ range)',
      packages,
      config,
      { '@asm/core': 'patch' },
      {
        expect: (actual) => {
          if (parse(core.manifest.version)[0] + parse(core.manifest.version)[1] > 0) {
            check(actual.size === 1, 'a patch of @asm/core bumped its dependents');
          }
        },
      },
    ),
    scenario('minor of @asm/core', packages, config, { '@asm/core': 'minor' }),
    // After 1.0 a minor of core stays inside the adapters' ^1 peer range: no adapter is republished.
    scenario(
      'minor of @asm/core 1.0.0',
      packages,
      config,
      { '@asm/core': 'minor' },
      {
        versions: { '@asm/core': '1.0.0' },
        expect: (actual) =>
          check(
            actual.size === 1 && actual.get('@asm/core') === '1.1.0',
            'a minor of core 1.0.0 bumped adapters',
          ),
      },
    ),
  );
}

const results = await Promise.allSettled(jobs);
for (const result of results) {
  if (result.status === 'rejected') failures.push(String(result.reason?.stack ?? result.reason));
}
const seconds = ((Date.now() - started) / 1000).toFixed(1);
if (failures.length > 0) {
  console.error(`\nrelease check FAILED in ${seconds} s:`);
  for (const failure of failures) console.error(`- ${failure}`);
  process.exit(1);
}
console.log(`release check passed: ${jobs.length} scenarios in ${seconds} s`);
