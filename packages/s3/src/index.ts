export type {
  S3ArtifactInfo,
  S3ArtifactStore,
  S3ArtifactStoreOptions,
  S3ClientSettings,
} from './s3-artifact-store.js';
export { createS3ArtifactStore, SHA256_METADATA_KEY } from './s3-artifact-store.js';
export type { S3ErrorContext, S3FailureReason, S3Operation } from './s3-errors.js';
export { isS3NotFound, mapS3Error } from './s3-errors.js';
export type { S3ClientLike, S3CommandConstructor, S3SdkLoader, S3SdkModule } from './sdk-loader.js';
export { importS3Sdk, S3_SDK_PACKAGE } from './sdk-loader.js';
