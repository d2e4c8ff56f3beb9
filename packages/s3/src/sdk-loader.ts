import { AsmError } from '@asm/core';

/** The optional peer dependency the S3 store runs on. */
export const S3_SDK_PACKAGE = '@aws-sdk/client-s3';

/**
 * The part of an `S3Client` the store uses: `send` and, for clients the store created, `destroy`.
 * A client from `@aws-sdk/client-s3` satisfies it; so does a test double.
 */
export interface S3ClientLike {
  send(command: unknown, options?: { abortSignal?: AbortSignal }): Promise<unknown>;
  destroy?(): void;
}

/** A command constructor of `@aws-sdk/client-s3` (`new PutObjectCommand(input)`). */
export type S3CommandConstructor = new (input: Record<string, unknown>) => unknown;

/**
 * The part of `@aws-sdk/client-s3` (3.x) the store uses, typed here so that the published types of
 * `@asm/s3` do not depend on the optional peer.
 */
export interface S3SdkModule {
  S3Client: new (config: Record<string, unknown>) => S3ClientLike;
  PutObjectCommand: S3CommandConstructor;
  GetObjectCommand: S3CommandConstructor;
  HeadObjectCommand: S3CommandConstructor;
  DeleteObjectCommand: S3CommandConstructor;
  ListObjectsV2Command: S3CommandConstructor;
}

/** Loads `@aws-sdk/client-s3`; inject one in tests to simulate an absent SDK. */
export type S3SdkLoader = () => Promise<S3SdkModule>;

/** Default loader: a dynamic `import()`, so the SDK is only needed once an S3 store is used. */
export const importS3Sdk: S3SdkLoader = async () => {
  const specifier = S3_SDK_PACKAGE;
  return (await import(specifier)) as S3SdkModule;
};

const REQUIRED_EXPORTS = [
  'S3Client',
  'PutObjectCommand',
  'GetObjectCommand',
  'HeadObjectCommand',
  'DeleteObjectCommand',
  'ListObjectsV2Command',
] as const;

function isModuleNotFound(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
}

/**
 * @internal Loads the SDK once per store. When it is not installed: `AsmError`
 * `dependency_not_available` with `details: { dependency, operation }` and the install command in the
 * message. A failed load is not cached, so installing the SDK later works without a restart.
 */
export function createSdkCache(loader: S3SdkLoader): (operation: string) => Promise<S3SdkModule> {
  let loaded: Promise<S3SdkModule> | undefined;
  return async (operation) => {
    loaded ??= loader().then((module) => {
      const missing = REQUIRED_EXPORTS.filter((name) => typeof module?.[name] !== 'function');
      if (missing.length > 0) {
        throw new AsmError(
          'dependency_not_available',
          `${S3_SDK_PACKAGE} does not export ${missing.join(', ')}: install a 3.x version with \`npm install ${S3_SDK_PACKAGE}\``,
          { details: { dependency: S3_SDK_PACKAGE, operation, missing } },
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
          ? `The S3 artifact store needs the optional peer dependency ${S3_SDK_PACKAGE}: install it with \`npm install ${S3_SDK_PACKAGE}\` (or \`pnpm add ${S3_SDK_PACKAGE}\`)`
          : `Could not load ${S3_SDK_PACKAGE}: ${error instanceof Error ? error.message : String(error)}. Reinstall it with \`npm install ${S3_SDK_PACKAGE}\``,
        { details: { dependency: S3_SDK_PACKAGE, operation }, cause: error },
      );
    }
  };
}
