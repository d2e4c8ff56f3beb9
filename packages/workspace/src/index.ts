export type { IgnoreRules, WorkspaceBackend, WorkspaceDiff, WorkspaceSnapshot } from './backends.js';
export { detectBackend, isIgnored } from './backends.js';
export { createFileArtifactStore } from './file-artifact-store.js';
export type { PatchStorage, SnapshotOptions, WorkspaceOptions, WorkspaceStrategy } from './workspace.js';
export {
  createWorkspaceExtension,
  diffSnapshots,
  resolveBackend,
  rollbackSnapshot,
  takeSnapshot,
} from './workspace.js';
