import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { AsmError, getConfig, runProcess } from '@asm/core';

/** Which backend took a snapshot. */
export type WorkspaceBackend = 'git' | 'hash';

/** The state of a working directory at one moment. */
export interface WorkspaceSnapshot {
  backend: WorkspaceBackend;
  path: string;
  /** A commit id (git) or the SHA-256 of every `path:hash` line (hash). */
  ref: string;
  label: string;
  capturedAt: string;
  /** git: `headRef`, `dirty`, `includesUntracked`; hash: `fileHashes`. */
  metadata: Record<string, unknown>;
}

/** What changed between two snapshots. */
export interface WorkspaceDiff {
  backend: WorkspaceBackend;
  fromRef: string;
  toRef: string;
  filesChanged: number;
  insertions: number;
  deletions: number;
  changedPaths: string[];
  /** The unified diff (git only, when captured and within `maxPatchBytes`). */
  patch?: string;
  /** Size of the patch in bytes, when one was made. */
  patchBytes?: number;
  /** True when the patch exceeded `maxPatchBytes` and was dropped. */
  patchTruncated?: boolean;
}

/** Globs and paths a hash snapshot leaves out (on top of `excludedWorkspaceRoots`). */
export interface IgnoreRules {
  paths?: string[];
  /** `*` within a segment, `**` any depth, `?` one character; a glob without `/` matches the basename. */
  globs?: string[];
}

const SNAPSHOT_IDENTITY = {
  GIT_AUTHOR_NAME: 'asm',
  GIT_AUTHOR_EMAIL: 'asm@localhost',
  GIT_COMMITTER_NAME: 'asm',
  GIT_COMMITTER_EMAIL: 'asm@localhost',
};

async function git(cwd: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  const result = await runProcess({
    command: 'git',
    args,
    cwd,
    env: { ...process.env, ...SNAPSHOT_IDENTITY, GIT_TERMINAL_PROMPT: '0', ...env },
    collectStdout: true,
    maxOutputBytes: 64 * 1_048_576,
    timeoutMs: 60_000,
  });
  if (result.exitCode !== 0) {
    throw new AsmError(
      'storage_error',
      `git command failed: git ${args.join(' ')}: ${result.stderr.trim()}`,
      {
        details: { args, exitCode: result.exitCode, stderr: result.stderr },
      },
    );
  }
  return result.stdout;
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

async function requireDirectory(path: string): Promise<void> {
  if (!(await isDirectory(path))) {
    throw new AsmError('validation_error', `Workspace path is not a directory: ${path}`, {
      details: { field: 'path', path },
    });
  }
}

/** `git` when the path is inside a git work tree, else `hash`. */
export async function detectBackend(path: string): Promise<WorkspaceBackend> {
  try {
    if (await isDirectory(join(path, '.git'))) return 'git';
    const inside = await git(path, ['rev-parse', '--is-inside-work-tree']);
    return inside.trim() === 'true' ? 'git' : 'hash';
  } catch {
    return 'hash';
  }
}

/**
 * A git snapshot that leaves HEAD, the index and the stash untouched: the work tree, untracked files
 * included (ignored files excluded), is written through a temporary index into a tree, and a commit
 * object (not on any branch) is made when it differs from HEAD.
 */
export async function takeGitSnapshot(path: string, label: string): Promise<WorkspaceSnapshot> {
  await requireDirectory(path);
  const capturedAt = new Date().toISOString();
  let head: string | undefined;
  try {
    head = (await git(path, ['rev-parse', '--verify', '-q', 'HEAD'])).trim() || undefined;
  } catch {
    head = undefined;
  }
  const indexFile = join(tmpdir(), `asm-index-${randomBytes(8).toString('hex')}`);
  try {
    const env = { GIT_INDEX_FILE: indexFile };
    if (head) await git(path, ['read-tree', head], env);
    await git(path, ['add', '-A', '--', '.'], env);
    const tree = (await git(path, ['write-tree'], env)).trim();
    const headTree = head ? (await git(path, ['rev-parse', `${head}^{tree}`])).trim() : undefined;
    const ref =
      head && tree === headTree
        ? head
        : (
            await git(path, [
              'commit-tree',
              tree,
              ...(head ? ['-p', head] : []),
              '-m',
              'asm workspace snapshot',
            ])
          ).trim();
    return {
      backend: 'git',
      path,
      ref,
      label,
      capturedAt,
      metadata: { headRef: head ?? null, dirty: ref !== head, includesUntracked: true },
    };
  } finally {
    await rm(indexFile, { force: true });
  }
}

/** Diff of two git snapshots of the same directory: paths, line counts, and the patch. */
export async function diffGitSnapshots(
  before: WorkspaceSnapshot,
  after: WorkspaceSnapshot,
  options: { capturePatch?: boolean; maxPatchBytes?: number } = {},
): Promise<WorkspaceDiff> {
  const names = (await git(before.path, ['diff', '--name-only', before.ref, after.ref]))
    .split('\n')
    .filter((line) => line !== '');
  let insertions = 0;
  let deletions = 0;
  for (const line of (await git(before.path, ['diff', '--numstat', before.ref, after.ref])).split('\n')) {
    const [added, removed] = line.split('\t');
    if (added === undefined || removed === undefined) continue;
    insertions += added === '-' ? 0 : Number(added);
    deletions += removed === '-' ? 0 : Number(removed);
  }
  const changedPaths = [...new Set(names)].sort();
  const diff: WorkspaceDiff = {
    backend: 'git',
    fromRef: before.ref,
    toRef: after.ref,
    filesChanged: changedPaths.length,
    insertions,
    deletions,
    changedPaths,
  };
  if (options.capturePatch !== false && changedPaths.length > 0) {
    const patch = await git(before.path, ['diff', '--binary', before.ref, after.ref]);
    const bytes = Buffer.byteLength(patch, 'utf8');
    diff.patchBytes = bytes;
    if (bytes > (options.maxPatchBytes ?? getConfig('maxPatchBytes'))) diff.patchTruncated = true;
    else diff.patch = patch;
  }
  return diff;
}

/**
 * Puts the work tree back as it was in a git snapshot: a safety tag `asm_rollback_<ms>_<n>` marks
 * the current HEAD, files are restored from the snapshot, files that did not exist in it are
 * removed (ignored files are kept), and HEAD goes back to where it was.
 */
export async function rollbackGitSnapshot(snapshot: WorkspaceSnapshot): Promise<{ safetyTag?: string }> {
  const head = (await git(snapshot.path, ['rev-parse', '--verify', '-q', 'HEAD']).catch(() => '')).trim();
  let safetyTag: string | undefined;
  if (head) {
    safetyTag = `asm_rollback_${Date.now()}_${randomBytes(2).toString('hex')}`;
    await git(snapshot.path, ['tag', safetyTag, head]);
  }
  await git(snapshot.path, ['reset', '--hard', '-q', snapshot.ref]);
  await git(snapshot.path, ['clean', '-fdq']);
  if (head && head !== snapshot.ref) await git(snapshot.path, ['reset', '--mixed', '-q', head]);
  return safetyTag === undefined ? {} : { safetyTag };
}

function globToRegExp(glob: string): RegExp {
  let source = '';
  for (let index = 0; index < glob.length; index++) {
    const char = glob[index]!;
    if (char === '*') {
      if (glob[index + 1] === '*') {
        source += '.*';
        index++;
        if (glob[index + 1] === '/') index++;
      } else {
        source += '[^/]*';
      }
    } else if (char === '?') {
      source += '[^/]';
    } else {
      source += char.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    }
  }
  return new RegExp(`^${source}$`);
}

/** True when a relative path (with `/`) is left out by the ignore rules. */
export function isIgnored(relativePath: string, rules: IgnoreRules = {}): boolean {
  const basename = relativePath.slice(relativePath.lastIndexOf('/') + 1);
  for (const path of rules.paths ?? []) {
    const clean = path.replace(/^\.\//, '').replace(/\/$/, '');
    if (relativePath === clean || relativePath.startsWith(`${clean}/`)) return true;
  }
  for (const glob of rules.globs ?? []) {
    const pattern = globToRegExp(glob);
    if (pattern.test(relativePath) || (!glob.includes('/') && pattern.test(basename))) return true;
  }
  return false;
}

async function hashFiles(root: string, ignore: IgnoreRules): Promise<Record<string, string>> {
  const excluded = new Set(getConfig('excludedWorkspaceRoots'));
  const hashes: Record<string, string> = {};
  const walk = async (directory: string) => {
    for (const entry of await readdir(directory, { withFileTypes: true })) {
      const full = join(directory, entry.name);
      const relativePath = relative(root, full).split(sep).join('/');
      if (directory === root && excluded.has(entry.name)) continue;
      if (isIgnored(relativePath, ignore)) continue;
      if (entry.isDirectory()) await walk(full);
      else if (entry.isFile())
        hashes[relativePath] = createHash('sha256')
          .update(await readFile(full))
          .digest('hex');
    }
  };
  await walk(root);
  return hashes;
}

/** A snapshot from the SHA-256 of every regular file (dot-files included) outside the ignore rules. */
export async function takeHashSnapshot(
  path: string,
  label: string,
  ignore: IgnoreRules = {},
): Promise<WorkspaceSnapshot> {
  await requireDirectory(path);
  const capturedAt = new Date().toISOString();
  const fileHashes = await hashFiles(path, ignore);
  const lines = Object.keys(fileHashes)
    .sort()
    .map((file) => `${file}:${fileHashes[file]}`)
    .join('\n');
  const ref = createHash('sha256').update(lines).digest('hex');
  return { backend: 'hash', path, ref, label, capturedAt, metadata: { fileHashes } };
}

/** Paths added, removed or modified between two hash snapshots (no line counts, no patch). */
export function diffHashSnapshots(before: WorkspaceSnapshot, after: WorkspaceSnapshot): WorkspaceDiff {
  const left = (before.metadata.fileHashes ?? {}) as Record<string, string>;
  const right = (after.metadata.fileHashes ?? {}) as Record<string, string>;
  const changed = new Set<string>();
  for (const file of Object.keys(left)) if (left[file] !== right[file]) changed.add(file);
  for (const file of Object.keys(right)) if (left[file] !== right[file]) changed.add(file);
  const changedPaths = [...changed].sort();
  return {
    backend: 'hash',
    fromRef: before.ref,
    toRef: after.ref,
    filesChanged: changedPaths.length,
    insertions: 0,
    deletions: 0,
    changedPaths,
  };
}
