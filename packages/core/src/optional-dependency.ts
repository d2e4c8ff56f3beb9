import { AsmError } from './errors.js';

/** What `createOptionalDependency` needs to load an optional peer dependency. */
export interface OptionalDependencyOptions<T> {
  /** The npm package, e.g. `@openai/codex-sdk`. */
  dependency: string;
  /** What needs it, as the start of a sentence: `'The Codex CLI backend'`. */
  neededBy: string;
  /** The install command the messages show. Default: `npm install <dependency>`. */
  install?: string;
  /** What to do instead, appended to the "not installed" message: `"use backend: 'responses'"`. */
  alternative?: string;
  /** Loads the module, usually `() => import(dependency)` (injectable for tests). */
  load: () => Promise<T>;
  /** Exports the module must have as functions; a module without one is refused. */
  requiredExports: readonly string[];
}

/**
 * Loads an optional peer dependency once, on first use (spec CORE-optional-dep). Returns
 * `load(operation)`, which resolves with the module, or rejects with `AsmError`
 * `dependency_not_available`, `details: { dependency, operation }` and the install command in the
 * message: when the package is not installed, cannot be loaded, or lacks one of `requiredExports`
 * (then also `details.missing`). A failed load is not remembered, so installing the package while
 * the app runs works without a restart.
 */
export function createOptionalDependency<T>(
  options: OptionalDependencyOptions<T>,
): (operation: string) => Promise<T> {
  const { dependency, neededBy, alternative, load, requiredExports } = options;
  const install = options.install ?? `npm install ${dependency}`;
  let loaded: Promise<T> | undefined;
  return async (operation) => {
    loaded ??= load().then((module) => {
      const missing = requiredExports.filter(
        (name) => typeof (module as Record<string, unknown> | null | undefined)?.[name] !== 'function',
      );
      if (missing.length > 0) {
        throw new AsmError(
          'dependency_not_available',
          `${dependency} does not export ${missing.join(', ')}: install a supported version with \`${install}\``,
          { details: { dependency, operation, missing } },
        );
      }
      return module;
    });
    try {
      return await loaded;
    } catch (error) {
      loaded = undefined;
      if (AsmError.isInstance(error)) throw error;
      throw new AsmError(
        'dependency_not_available',
        isModuleNotFound(error)
          ? `${neededBy} needs the optional peer dependency ${dependency}: install it with \`${install}\`${alternative === undefined ? '' : `, or ${alternative}`}`
          : `Could not load ${dependency}: ${error instanceof Error ? error.message : String(error)}. Reinstall it with \`${install}\``,
        { details: { dependency, operation }, cause: error },
      );
    }
  };
}

function isModuleNotFound(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
}
