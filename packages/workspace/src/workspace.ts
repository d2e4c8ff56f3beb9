import { createHash, randomBytes } from 'node:crypto';
import { type ArtifactStore, AsmError, type RunExtension, validateArtifactKey } from '@asm/core';
import {
  detectBackend,
  diffGitSnapshots,
  diffHashSnapshots,
  type IgnoreRules,
  rollbackGitSnapshot,
  takeGitSnapshot,
  takeHashSnapshot,
  type WorkspaceBackend,
  type WorkspaceDiff,
  type WorkspaceSnapshot,
} from './backends.js';

/** How to pick a backend: `auto` uses git inside a git work tree, hash elsewhere. */
export type WorkspaceStrategy = 'auto' | WorkspaceBackend;

/**
 * Where a run's patch goes:
 * - `auto`: patches larger than `inlinePatchMaxBytes` go to the artifact store (when there is one),
 *   smaller ones stay inline in the `workspace_diff_computed` event;
 * - `artifact`: every non-empty patch goes to the artifact store (the reference library's
 *   behaviour); the event and the run metadata carry only `patchRef`, `patchBytes` and `patchSha256`;
 * - `inline`: the artifact store is never used; patches up to `inlinePatchMaxBytes` stay inline.
 */
export type PatchStorage = 'auto' | 'artifact' | 'inline';

/** Options of `takeSnapshot`. */
export interface SnapshotOptions {
  strategy?: WorkspaceStrategy;
  label?: string;
  /** Hash backend only. */
  ignore?: IgnoreRules;
}

/** Resolves the backend a strategy means for a path. */
export async function resolveBackend(
  path: string,
  strategy: WorkspaceStrategy = 'auto',
): Promise<WorkspaceBackend> {
  return strategy === 'git' || strategy === 'hash' ? strategy : detectBackend(path);
}

/** Snapshots a working directory with the chosen (or detected) backend. */
export async function takeSnapshot(path: string, options: SnapshotOptions = {}): Promise<WorkspaceSnapshot> {
  const backend = await resolveBackend(path, options.strategy);
  const label = options.label ?? 'snapshot';
  return backend === 'git' ? takeGitSnapshot(path, label) : takeHashSnapshot(path, label, options.ignore);
}

/** What changed between two snapshots of the same directory with the same backend. */
export async function diffSnapshots(
  before: WorkspaceSnapshot,
  after: WorkspaceSnapshot,
  options: { capturePatch?: boolean; maxPatchBytes?: number } = {},
): Promise<WorkspaceDiff> {
  if (before.backend !== after.backend) {
    throw new AsmError(
      'validation_error',
      `Cannot diff a ${before.backend} snapshot with a ${after.backend} one`,
    );
  }
  if (before.path !== after.path) {
    throw new AsmError('validation_error', 'Cannot diff snapshots of different directories', {
      details: { before: before.path, after: after.path },
    });
  }
  return before.backend === 'git'
    ? diffGitSnapshots(before, after, options)
    : diffHashSnapshots(before, after);
}

/** Restores the directory to a snapshot (git only; the hash backend keeps no content). */
export async function rollbackSnapshot(snapshot: WorkspaceSnapshot): Promise<{ safetyTag?: string }> {
  if (snapshot.backend !== 'git') {
    throw new AsmError('invalid_operation', 'Rollback is only supported with the git backend');
  }
  return rollbackGitSnapshot(snapshot);
}

/** Options of `createWorkspaceExtension`. */
export interface WorkspaceOptions {
  /** The working directory the agent changes. */
  path: string;
  strategy?: WorkspaceStrategy;
  /** Make the unified diff (git). Default true. */
  capturePatch?: boolean;
  /** Patches larger than this are dropped (`patchTruncated`). Default `maxPatchBytes` (1 MiB). */
  maxPatchBytes?: number;
  /**
   * Where patches are stored as artifacts (the event then carries `patchRef`); see `patchStorage`.
   * The put options also carry `sessionId` and `runId`, so a store wrapped with
   * `withArtifactRegistry` links the patch to its session.
   */
  artifactStore?: ArtifactStore;
  /** Which patches go to `artifactStore`. Default `auto`; `artifact` requires `artifactStore`. */
  patchStorage?: PatchStorage;
  /**
   * Put in front of patch keys (`<prefix>patch_<from>_<to>_<32 hex>`), for example `'patches/'` to
   * route patches to their own backend with `createCompositeArtifactStore`. Default `''`.
   */
  patchKeyPrefix?: string;
  /** Largest patch kept inline in the `workspace_diff_computed` event. Default 16 KiB. */
  inlinePatchMaxBytes?: number;
  /** Put the directory back as it was before the run when the run fails (git only). */
  rollbackOnFailure?: boolean;
  /** Hash backend only. */
  ignore?: IgnoreRules;
}

/**
 * A run extension that snapshots the working directory before the run and after it (label `after`,
 * or `after_failure`), writes `workspace_snapshot_taken` and `workspace_diff_computed` events, stores
 * a large patch as an artifact, rolls back on failure when asked, and records
 * `run.metadata.workspace = { backend, beforeRef, afterRef, diff }`. Pass it in `extensions`.
 */
export function createWorkspaceExtension(options: WorkspaceOptions): RunExtension {
  if (typeof options?.path !== 'string' || options.path === '') {
    throw new AsmError('validation_error', 'workspace path is required', { details: { field: 'path' } });
  }
  const patchStorage = options.patchStorage ?? 'auto';
  if (patchStorage !== 'auto' && patchStorage !== 'artifact' && patchStorage !== 'inline') {
    throw new AsmError('validation_error', "patchStorage must be 'auto', 'artifact' or 'inline'", {
      details: { field: 'patchStorage' },
    });
  }
  if (patchStorage === 'artifact' && !options.artifactStore) {
    throw new AsmError('validation_error', "patchStorage 'artifact' needs an artifactStore", {
      details: { field: 'artifactStore' },
    });
  }
  const patchKeyPrefix = options.patchKeyPrefix ?? '';
  try {
    validateArtifactKey(`${patchKeyPrefix}patch`);
  } catch {
    throw new AsmError('validation_error', `Invalid patchKeyPrefix: ${JSON.stringify(patchKeyPrefix)}`, {
      details: { field: 'patchKeyPrefix' },
    });
  }
  const before = new Map<string, WorkspaceSnapshot>();
  const inlineMax = options.inlinePatchMaxBytes ?? 16_384;
  return {
    name: 'workspace',
    async beforeRun(context) {
      const backend = await resolveBackend(options.path, options.strategy);
      if (options.rollbackOnFailure && backend !== 'git') {
        throw new AsmError('validation_error', 'rollbackOnFailure needs the git backend', {
          details: { field: 'rollbackOnFailure', backend },
        });
      }
      const snapshot = await takeSnapshot(options.path, {
        strategy: backend,
        label: 'before',
        ...(options.ignore ? { ignore: options.ignore } : {}),
      });
      before.set(context.run.id, snapshot);
      context.emit({
        type: 'workspace_snapshot_taken',
        data: { label: 'before', backend, ref: snapshot.ref },
      });
    },
    async beforeFinish(outcome, context) {
      const start = before.get(context.run.id);
      if (!start) return undefined;
      before.delete(context.run.id);
      const failed = outcome.error !== undefined;
      const label = failed ? 'after_failure' : 'after';
      const end = await takeSnapshot(options.path, {
        strategy: start.backend,
        label,
        ...(options.ignore ? { ignore: options.ignore } : {}),
      });
      context.emit({ type: 'workspace_snapshot_taken', data: { label, backend: end.backend, ref: end.ref } });
      const diff = await diffSnapshots(start, end, {
        ...(options.capturePatch === undefined ? {} : { capturePatch: options.capturePatch }),
        ...(options.maxPatchBytes === undefined ? {} : { maxPatchBytes: options.maxPatchBytes }),
      });
      let patchRef: string | undefined;
      let patchSha256: string | undefined;
      const patchSize = diff.patch === undefined ? 0 : Buffer.byteLength(diff.patch, 'utf8');
      const toArtifact =
        diff.patch !== undefined &&
        patchSize > 0 &&
        options.artifactStore !== undefined &&
        (patchStorage === 'artifact' || (patchStorage === 'auto' && patchSize > inlineMax));
      if (toArtifact && diff.patch !== undefined && options.artifactStore) {
        patchRef = `${patchKeyPrefix}patch_${start.ref.slice(0, 12)}_${end.ref.slice(0, 12)}_${randomBytes(16).toString('hex')}`;
        patchSha256 = createHash('sha256').update(diff.patch, 'utf8').digest('hex');
        // Extra fields for stores that keep a registry (`withArtifactRegistry`); plain stores ignore them.
        const putOptions = {
          contentType: 'text/x-diff',
          sessionId: context.session.id,
          runId: context.run.id,
          metadata: { kind: 'workspace_patch', fromRef: diff.fromRef, toRef: diff.toRef },
        };
        try {
          await options.artifactStore.put(patchRef, diff.patch, putOptions);
        } catch (error) {
          throw AsmError.from(
            error,
            'persistence_error',
            `Storing the workspace patch failed: ${String(error)}`,
          );
        }
      }
      const inlinePatch =
        patchRef === undefined && diff.patch !== undefined && patchSize <= inlineMax ? diff.patch : undefined;
      context.emit({
        type: 'workspace_diff_computed',
        data: {
          backend: diff.backend,
          fromRef: diff.fromRef,
          toRef: diff.toRef,
          filesChanged: diff.filesChanged,
          insertions: diff.insertions,
          deletions: diff.deletions,
          changedPaths: diff.changedPaths,
          hasPatch: diff.patch !== undefined,
          ...(inlinePatch === undefined ? {} : { patch: inlinePatch }),
          ...(patchRef === undefined ? {} : { patchRef }),
          ...(diff.patchBytes === undefined ? {} : { patchBytes: diff.patchBytes }),
          ...(patchSha256 === undefined ? {} : { patchSha256 }),
          ...(diff.patchTruncated ? { patchTruncated: true } : {}),
        },
      });
      let rolledBack: { safetyTag?: string } | undefined;
      if (failed && options.rollbackOnFailure) rolledBack = await rollbackSnapshot(start);
      return {
        metadata: {
          workspace: {
            backend: diff.backend,
            beforeRef: start.ref,
            afterRef: end.ref,
            diff: {
              filesChanged: diff.filesChanged,
              insertions: diff.insertions,
              deletions: diff.deletions,
              changedPaths: diff.changedPaths,
              ...(patchRef === undefined ? {} : { patchRef }),
              ...(diff.patchBytes === undefined ? {} : { patchBytes: diff.patchBytes }),
              ...(patchSha256 === undefined ? {} : { patchSha256 }),
            },
            ...(rolledBack ? { rolledBack: true, ...rolledBack } : {}),
          },
        },
      };
    },
  };
}
