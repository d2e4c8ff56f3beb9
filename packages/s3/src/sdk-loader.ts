import { createOptionalDependency } from '@asm/core';

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

/**
 * @internal Loads the SDK once per store. When it is not installed: `AsmError`
 * `dependency_not_available` with `details: { dependency, operation }` and the install command in the
 * message. A failed load is not cached, so installing the SDK later works without a restart.
 */
export function createSdkCache(loader: S3SdkLoader): (operation: string) => Promise<S3SdkModule> {
  return createOptionalDependency({
    dependency: S3_SDK_PACKAGE,
    neededBy: 'The S3 artifact store',
    load: loader,
    requiredExports: REQUIRED_EXPORTS,
  });
}
