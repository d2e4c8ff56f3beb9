// pnpm hooks for this workspace.
//
// beforePacking (pnpm >= 10.28) runs on the manifest that `pnpm pack` and `pnpm publish` (hence
// `changeset publish`) put in the tarball; the package.json on disk is not changed.
// Inside the workspace every package's `exports` starts with the `@asm/source` condition, which
// points at `src/*.ts` so tests, examples and type-checks run on sources without a build. Published
// packages ship only `dist`, so that condition would point at files that are not in the tarball:
// strip it, leaving `types` first. `scripts/pack-check.mjs` checks the result on every tarball.
//
// pnpm records a checksum of this file in pnpm-lock.yaml (`pnpmfileChecksum`): after editing it, run
// `pnpm install` so that `pnpm install --frozen-lockfile` (CI) accepts the lockfile.

/** Returns `exports` without any `@asm/source` condition, at any depth. */
function stripSourceCondition(node) {
  if (node === null || typeof node !== 'object' || Array.isArray(node)) return node;
  const result = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === '@asm/source') continue;
    result[key] = stripSourceCondition(value);
  }
  return result;
}

module.exports = {
  hooks: {
    beforePacking(manifest) {
      if (manifest.exports !== undefined) manifest.exports = stripSourceCondition(manifest.exports);
      return manifest;
    },
  },
};
