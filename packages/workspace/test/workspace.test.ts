import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type ArtifactStore,
  AsmError,
  createCompositeArtifactStore,
  createInMemoryArtifactStore,
  createInMemoryStore,
  createSessionManager,
  type ProviderAdapter,
} from '@asm/core';
import { testArtifactStore } from '@asm/testing';
import { createMockProvider } from '@asm/testing/fakes';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createFileArtifactStore,
  createWorkspaceExtension,
  detectBackend,
  diffSnapshots,
  isIgnored,
  rollbackSnapshot,
  takeSnapshot,
} from '../src/index.js';

const scratch = mkdtempSync(join(tmpdir(), 'asm-workspace-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const gitEnv = {
  ...process.env,
  GIT_AUTHOR_NAME: 't',
  GIT_AUTHOR_EMAIL: 't@t',
  GIT_COMMITTER_NAME: 't',
  GIT_COMMITTER_EMAIL: 't@t',
};
function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, env: gitEnv, encoding: 'utf8' }).trim();
}

let counter = 0;
function repo(): string {
  const dir = join(scratch, `repo-${++counter}`);
  mkdirSync(dir, { recursive: true });
  git(dir, 'init', '-q', '-b', 'main');
  writeFileSync(join(dir, 'a.txt'), 'one\ntwo\n');
  writeFileSync(join(dir, 'b.txt'), 'bee\n');
  writeFileSync(join(dir, '.gitignore'), 'ignored.log\n');
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '-m', 'initial');
  return dir;
}

function plainDir(): string {
  const dir = join(scratch, `plain-${++counter}`);
  mkdirSync(join(dir, 'src'), { recursive: true });
  mkdirSync(join(dir, 'node_modules', 'x'), { recursive: true });
  writeFileSync(join(dir, 'src', 'a.ts'), 'export const a = 1;\n');
  writeFileSync(join(dir, '.env'), 'X=1\n');
  writeFileSync(join(dir, 'debug.log'), 'noise\n');
  writeFileSync(join(dir, 'node_modules', 'x', 'index.js'), 'skip\n');
  return dir;
}

/** A provider that changes files in `dir` while it "works", then answers like the mock. */
function editingProvider(
  dir: string,
  settings: Parameters<typeof createMockProvider>[0] = {},
): ProviderAdapter {
  const mock = createMockProvider(settings);
  return {
    ...mock,
    specificationVersion: 'v1',
    name: 'editor',
    capabilities: () => mock.capabilities(),
    execute: async (run, session, options) => {
      writeFileSync(join(dir, 'a.txt'), 'one\nTWO\nthree\n');
      writeFileSync(join(dir, 'new.txt'), 'fresh\n');
      return mock.execute(run, session, options);
    },
  };
}

describe('git backend', () => {
  it('snapshots staged, unstaged and untracked changes without touching HEAD, the index or the stash', async () => {
    const dir = repo();
    writeFileSync(join(dir, 'a.txt'), 'one\nchanged\n');
    git(dir, 'add', 'a.txt');
    writeFileSync(join(dir, 'b.txt'), 'bee\nunstaged\n');
    writeFileSync(join(dir, 'untracked.txt'), 'new\n');
    writeFileSync(join(dir, 'ignored.log'), 'noise\n');
    const head = git(dir, 'rev-parse', 'HEAD');
    const staged = git(dir, 'diff', '--cached', '--name-only');
    const status = git(dir, 'status', '--porcelain');
    expect(await detectBackend(dir)).toBe('git');
    const snapshot = await takeSnapshot(dir, { label: 'before' });
    expect(snapshot.backend).toBe('git');
    expect(snapshot.metadata).toMatchObject({ headRef: head, dirty: true, includesUntracked: true });
    expect(git(dir, 'rev-parse', 'HEAD')).toBe(head);
    expect(git(dir, 'diff', '--cached', '--name-only')).toBe(staged);
    expect(git(dir, 'status', '--porcelain')).toBe(status);
    expect(git(dir, 'stash', 'list')).toBe('');
    expect(git(dir, 'show', `${snapshot.ref}:untracked.txt`)).toBe('new');
    expect(() => git(dir, 'show', `${snapshot.ref}:ignored.log`)).toThrow();
  });

  it('a clean tree snapshots as HEAD; diffs count files and lines and carry the patch', async () => {
    const dir = repo();
    const before = await takeSnapshot(dir);
    expect(before.ref).toBe(git(dir, 'rev-parse', 'HEAD'));
    writeFileSync(join(dir, 'a.txt'), 'one\nTWO\nthree\n');
    writeFileSync(join(dir, 'c.txt'), 'see\n');
    const after = await takeSnapshot(dir);
    const diff = await diffSnapshots(before, after);
    expect(diff).toMatchObject({
      filesChanged: 2,
      insertions: 3,
      deletions: 1,
      changedPaths: ['a.txt', 'c.txt'],
    });
    expect(diff.patch).toContain('+TWO');
    const capped = await diffSnapshots(before, after, { maxPatchBytes: 10 });
    expect(capped.patch).toBeUndefined();
    expect(capped.patchTruncated).toBe(true);
  });

  it('rolls the work tree back to a snapshot and leaves a safety tag', async () => {
    const dir = repo();
    writeFileSync(join(dir, 'untracked.txt'), 'keep me\n');
    const snapshot = await takeSnapshot(dir);
    writeFileSync(join(dir, 'a.txt'), 'ruined\n');
    writeFileSync(join(dir, 'created-by-agent.txt'), 'x\n');
    rmSync(join(dir, 'untracked.txt'));
    const head = git(dir, 'rev-parse', 'HEAD');
    const { safetyTag } = await rollbackSnapshot(snapshot);
    expect(readFileSync(join(dir, 'a.txt'), 'utf8')).toBe('one\ntwo\n');
    expect(readFileSync(join(dir, 'untracked.txt'), 'utf8')).toBe('keep me\n');
    expect(existsSync(join(dir, 'created-by-agent.txt'))).toBe(false);
    expect(git(dir, 'rev-parse', 'HEAD')).toBe(head);
    expect(git(dir, 'tag', '--list', 'asm_rollback_*')).toBe(safetyTag);
  });

  it('refuses to diff snapshots of different backends or directories', async () => {
    const dir = repo();
    const gitSnapshot = await takeSnapshot(dir, { strategy: 'git' });
    const hashSnapshot = await takeSnapshot(dir, { strategy: 'hash' });
    const mixed = await diffSnapshots(gitSnapshot, hashSnapshot).catch((error: unknown) => error);
    expect(AsmError.isInstance(mixed) && mixed.code).toBe('validation_error');
    const other = await takeSnapshot(repo(), { strategy: 'git' });
    const elsewhere = await diffSnapshots(gitSnapshot, other).catch((error: unknown) => error);
    expect(AsmError.isInstance(elsewhere) && elsewhere.code).toBe('validation_error');
  });
});

describe('hash backend', () => {
  it('hashes every file but the excluded roots and ignored globs, and diffs by path', async () => {
    const dir = plainDir();
    expect(await detectBackend(dir)).toBe('hash');
    const before = await takeSnapshot(dir, { ignore: { globs: ['*.log'] } });
    expect(Object.keys(before.metadata.fileHashes as object).sort()).toEqual(['.env', 'src/a.ts']);
    writeFileSync(join(dir, 'src', 'a.ts'), 'export const a = 2;\n');
    writeFileSync(join(dir, 'src', 'b.ts'), 'export const b = 1;\n');
    writeFileSync(join(dir, 'debug.log'), 'more noise\n');
    rmSync(join(dir, '.env'));
    const after = await takeSnapshot(dir, { ignore: { globs: ['*.log'] } });
    expect(await diffSnapshots(before, after)).toMatchObject({
      backend: 'hash',
      filesChanged: 3,
      insertions: 0,
      deletions: 0,
      changedPaths: ['.env', 'src/a.ts', 'src/b.ts'],
    });
    const error = await rollbackSnapshot(after).catch((caught: unknown) => caught);
    expect(AsmError.isInstance(error) && error.code).toBe('invalid_operation');
  });

  it('matches ignore globs and paths', () => {
    expect(isIgnored('dist/app.js', { paths: ['dist'] })).toBe(true);
    expect(isIgnored('src/deep/x.snap', { globs: ['**/*.snap'] })).toBe(true);
    expect(isIgnored('src/x.ts', { globs: ['src/*.ts'] })).toBe(true);
    expect(isIgnored('src/a/x.ts', { globs: ['src/*.ts'] })).toBe(false);
    expect(isIgnored('notes/todo.md', { globs: ['todo.m?'] })).toBe(true);
  });

  it('rejects a path that is not a directory', async () => {
    const error = await takeSnapshot(join(scratch, 'nope'), { strategy: 'hash' }).catch(
      (caught: unknown) => caught,
    );
    expect(AsmError.isInstance(error) && error.code).toBe('validation_error');
  });
});

describe('createWorkspaceExtension', () => {
  it('records before and after snapshots and the diff around a run', async () => {
    const dir = repo();
    const store = createInMemoryStore();
    const manager = createSessionManager({ store, provider: editingProvider(dir) });
    const result = await manager.runOnce('edit the files', {
      workspace: createWorkspaceExtension({ path: dir }),
    });
    const events = await store.getEvents(result.sessionId, { runId: result.runId });
    const types = events.map((event) => event.type);
    expect(types.indexOf('workspace_snapshot_taken')).toBeLessThan(types.indexOf('run_started'));
    expect(types.slice(-3)).toEqual(['workspace_snapshot_taken', 'workspace_diff_computed', 'run_completed']);
    const diff = events.find((event) => event.type === 'workspace_diff_computed')!;
    expect(diff.data).toMatchObject({
      backend: 'git',
      filesChanged: 2,
      changedPaths: ['a.txt', 'new.txt'],
      hasPatch: true,
    });
    expect(diff.data.patch).toContain('+fresh');
    expect(result.metadata.workspace).toMatchObject({ backend: 'git', diff: { filesChanged: 2 } });
    await store.close();
  });

  it('stores a large patch as an artifact and rolls back a failed run', async () => {
    const dir = repo();
    const artifacts = createInMemoryArtifactStore();
    const store = createInMemoryStore();
    const manager = createSessionManager({
      store,
      provider: editingProvider(dir, { failWith: 'provider_error' }),
    });
    const error = await manager
      .runOnce('break things', {
        extensions: [
          createWorkspaceExtension({
            path: dir,
            artifactStore: artifacts,
            inlinePatchMaxBytes: 10,
            rollbackOnFailure: true,
          }),
        ],
      })
      .catch((caught: unknown) => caught as AsmError);
    expect((error as AsmError).code).toBe('provider_error');
    const run = await manager.getRun((error as AsmError).details.runId as string);
    const workspace = run?.metadata.workspace as { diff: { patchRef: string }; rolledBack: boolean };
    expect(workspace.rolledBack).toBe(true);
    const patch = new TextDecoder().decode(await artifacts.get(workspace.diff.patchRef));
    expect(patch).toContain('+fresh');
    expect(readFileSync(join(dir, 'a.txt'), 'utf8')).toBe('one\ntwo\n');
    expect(existsSync(join(dir, 'new.txt'))).toBe(false);
    const labels = (await store.getEvents(run!.sessionId, { types: ['workspace_snapshot_taken'] })).map(
      (event) => event.data.label,
    );
    expect(labels).toEqual(['before', 'after_failure']);
    await store.close();
  });

  it('refuses rollbackOnFailure without git before the provider is called', async () => {
    const dir = plainDir();
    const store = createInMemoryStore();
    const provider = createMockProvider();
    const manager = createSessionManager({ store, provider });
    const error = await manager
      .runOnce('x', { extensions: [createWorkspaceExtension({ path: dir, rollbackOnFailure: true })] })
      .catch((caught: unknown) => caught as AsmError);
    expect((error as AsmError).code).toBe('validation_error');
    expect(provider.calls).toHaveLength(0);
    await store.close();
  });
});

describe('createWorkspaceExtension - patches as artifacts', () => {
  const decode = (bytes: Uint8Array | undefined) => new TextDecoder().decode(bytes);
  const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

  /** An artifact store that records the options of every put. */
  function recording(inner: ArtifactStore) {
    const puts: { key: string; options: unknown }[] = [];
    const store: ArtifactStore = {
      ...inner,
      async put(key, data, options) {
        puts.push({ key, options });
        await inner.put(key, data, options);
      },
    };
    return { store, puts };
  }

  async function runEditing(dir: string, workspace: ReturnType<typeof createWorkspaceExtension>) {
    const store = createInMemoryStore();
    const manager = createSessionManager({ store, provider: editingProvider(dir) });
    const result = await manager.runOnce('edit', { workspace });
    const [diffEvent] = await store.getEvents(result.sessionId, { types: ['workspace_diff_computed'] });
    await store.close();
    return { result, diff: diffEvent?.data as Record<string, unknown> };
  }

  it("patchStorage 'artifact' stores even a small patch (in memory) and references it in the event and run metadata", async () => {
    const dir = repo();
    const artifacts = recording(createInMemoryArtifactStore());
    const { result, diff } = await runEditing(
      dir,
      createWorkspaceExtension({ path: dir, artifactStore: artifacts.store, patchStorage: 'artifact' }),
    );
    expect(diff.patch).toBeUndefined();
    expect(diff.hasPatch).toBe(true);
    const patchRef = diff.patchRef as string;
    expect(patchRef).toMatch(/^patch_[0-9a-f]{12}_[0-9a-f]{12}_[0-9a-f]{32}$/);
    const patch = decode(await artifacts.store.get(patchRef));
    expect(patch).toContain('+fresh');
    expect(diff.patchSha256).toBe(sha256(patch));
    expect(diff.patchBytes).toBe(Buffer.byteLength(patch));
    expect(result.metadata.workspace).toMatchObject({
      diff: { patchRef, patchSha256: diff.patchSha256, patchBytes: diff.patchBytes },
    });
    expect(artifacts.puts).toEqual([
      {
        key: patchRef,
        options: {
          contentType: 'text/x-diff',
          sessionId: result.sessionId,
          runId: result.runId,
          metadata: { kind: 'workspace_patch', fromRef: expect.any(String), toRef: expect.any(String) },
        },
      },
    ]);
  });

  it('stores patches on the filesystem under patchKeyPrefix, routed there by a composite store', async () => {
    const dir = repo();
    const root = join(scratch, `patch-artifacts-${++counter}`);
    const files = createFileArtifactStore({ root });
    const memory = createInMemoryArtifactStore();
    const artifacts = createCompositeArtifactStore({
      primary: memory,
      routes: [{ prefix: 'patches/', store: files }],
    });
    const { diff } = await runEditing(
      dir,
      createWorkspaceExtension({
        path: dir,
        artifactStore: artifacts,
        patchStorage: 'artifact',
        patchKeyPrefix: 'patches/',
      }),
    );
    const patchRef = diff.patchRef as string;
    expect(patchRef.startsWith('patches/patch_')).toBe(true);
    const onDisk = readFileSync(join(root, patchRef), 'utf8');
    expect(onDisk).toContain('+TWO');
    expect(diff.patchSha256).toBe(sha256(onDisk));
    expect(await memory.get(patchRef)).toBeUndefined();
    expect(decode(await artifacts.get(patchRef))).toBe(onDisk);
  });

  it("patchStorage 'auto' keeps a small patch inline and 'inline' never writes artifacts", async () => {
    const small = repo();
    const autoStore = recording(createInMemoryArtifactStore());
    const auto = await runEditing(
      small,
      createWorkspaceExtension({ path: small, artifactStore: autoStore.store }),
    );
    expect(auto.diff.patch).toContain('+fresh');
    expect(auto.diff.patchRef).toBeUndefined();
    expect(autoStore.puts).toEqual([]);

    const big = repo();
    const inlineStore = recording(createInMemoryArtifactStore());
    const inline = await runEditing(
      big,
      createWorkspaceExtension({
        path: big,
        artifactStore: inlineStore.store,
        patchStorage: 'inline',
        inlinePatchMaxBytes: 10,
      }),
    );
    expect(inlineStore.puts).toEqual([]);
    expect(inline.diff).toMatchObject({ hasPatch: true });
    expect(inline.diff.patch).toBeUndefined(); // too big to stay inline, and not stored
    expect(inline.diff.patchRef).toBeUndefined();
  });

  it('a failed patch upload fails the run with the artifact store error', async () => {
    const dir = repo();
    const broken: ArtifactStore = {
      ...createInMemoryArtifactStore(),
      async put() {
        throw new AsmError('storage_connection_failed', 'artifact backend down');
      },
    };
    const store = createInMemoryStore();
    const manager = createSessionManager({ store, provider: editingProvider(dir) });
    const error = await manager
      .runOnce('edit', {
        workspace: createWorkspaceExtension({ path: dir, artifactStore: broken, patchStorage: 'artifact' }),
      })
      .catch((caught: unknown) => caught);
    expect(AsmError.isInstance(error) && error.code).toBe('storage_connection_failed');
    const run = await manager.getRun((error as AsmError).details.runId as string);
    expect(run?.status).toBe('failed');
    await store.close();
  });

  it('checks the patch options eagerly', () => {
    const field = (options: Record<string, unknown>) => {
      try {
        createWorkspaceExtension({ path: '/tmp', ...options });
        return undefined;
      } catch (error) {
        return AsmError.isInstance(error) && error.code === 'validation_error' ? error.details.field : error;
      }
    };
    expect(field({ patchStorage: 'artifact' })).toBe('artifactStore');
    expect(field({ patchStorage: 'sometimes' })).toBe('patchStorage');
    expect(field({ patchKeyPrefix: '../up/' })).toBe('patchKeyPrefix');
    expect(field({ patchKeyPrefix: '/abs/' })).toBe('patchKeyPrefix');
    expect(
      field({ patchKeyPrefix: 'runs/2026/', artifactStore: createInMemoryArtifactStore() }),
    ).toBeUndefined();
  });
});

testArtifactStore({
  name: 'filesystem',
  create: () => createFileArtifactStore({ root: join(scratch, `artifacts-${++counter}`) }),
});
