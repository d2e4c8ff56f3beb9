import { createHash } from 'node:crypto';
import { type ArtifactStore, AsmError, validateArtifactKey } from '@asm/core';
import { failureCodeOf, isS3NotFound, mapS3Error, type S3Operation } from './s3-errors.js';
import {
  createSdkCache,
  importS3Sdk,
  type S3ClientLike,
  type S3SdkLoader,
  type S3SdkModule,
} from './sdk-loader.js';

/**
 * Settings for the `S3Client` the store creates itself (`clientConfig`): the common fields of the
 * SDK's `S3ClientConfig`, typed here so `@asm/s3`'s types do not need the SDK; any other
 * `S3ClientConfig` field passes through unchanged.
 */
export interface S3ClientSettings {
  region?: string;
  /** An S3-compatible service (MinIO, R2, Ceph…): `https://minio.internal:9000`. */
  endpoint?: string;
  /** `https://host/bucket/key` instead of `https://bucket.host/key`; most S3-compatible services need it. */
  forcePathStyle?: boolean;
  credentials?:
    | { accessKeyId: string; secretAccessKey: string; sessionToken?: string }
    | (() => Promise<{ accessKeyId: string; secretAccessKey: string; sessionToken?: string }>);
  /** Attempts per call, retries of throttling, 5xx and network errors included (SDK default 3). */
  maxAttempts?: number;
  /** `WHEN_REQUIRED` for services that reject the SDK's default CRC32 upload checksums. */
  requestChecksumCalculation?: 'WHEN_SUPPORTED' | 'WHEN_REQUIRED';
  responseChecksumValidation?: 'WHEN_SUPPORTED' | 'WHEN_REQUIRED';
  [option: string]: unknown;
}

/** Options of `createS3ArtifactStore`. */
export interface S3ArtifactStoreOptions {
  /** The bucket (it must exist). */
  bucket: string;
  /**
   * Put in front of every key: object key = `prefix + key` (include the trailing `/` if you want a
   * folder: `'asm/artifacts/'`). Default `''`.
   */
  prefix?: string;
  /** An `S3Client` you already have (it is not destroyed by `close()`). */
  client?: S3ClientLike;
  /** Settings for the client the store creates on first use (when `client` is not given). */
  clientConfig?: S3ClientSettings;
  /**
   * How uploads are protected in transit. `sha256` (default): `x-amz-checksum-sha256`, which S3
   * verifies, and reads ask S3 for the stored checksum (`x-amz-checksum-mode: ENABLED`), which the
   * SDK verifies. `md5`: `Content-MD5` only, for S3-compatible services without the flexible
   * checksum headers. Either way the SHA-256 is also stored in the object's metadata
   * (`x-amz-meta-asm-sha256`) and every `get` checks the bytes against it.
   */
  checksum?: 'sha256' | 'md5';
  /** Per-call limit, reading the body included; past it the call fails with `timeout`. Default 120000; `0` for none. */
  timeoutMs?: number;
  /** @internal Loads the SDK (tests inject a failing loader). Default: `import('@aws-sdk/client-s3')`. */
  loadSdk?: S3SdkLoader;
}

/** What `stat` tells about a stored artifact (a `HeadObject`). */
export interface S3ArtifactInfo {
  key: string;
  objectKey: string;
  size: number;
  contentType?: string;
  etag?: string;
  lastModified?: Date;
  /** Hex SHA-256 the store recorded at `put` (absent for objects written by other tools). */
  sha256?: string;
}

/** An `ArtifactStore` on S3, plus what S3 offers beyond the port. */
export interface S3ArtifactStore extends ArtifactStore {
  readonly bucket: string;
  readonly prefix: string;
  /** Whether the artifact exists (a `HeadObject`; nothing is downloaded). */
  has(key: string): Promise<boolean>;
  /** Size, type and recorded SHA-256 of an artifact without downloading it, or undefined when absent. */
  stat(key: string): Promise<S3ArtifactInfo | undefined>;
  /** Artifact keys (without the store's prefix) that start with `prefix`, in S3 order, paged lazily. */
  list(prefix?: string): AsyncIterable<string>;
  /** Destroys the client the store created (a client passed in is left to its owner). Idempotent. */
  close(): Promise<void>;
}

/** Metadata name (after `x-amz-meta-`) of the SHA-256 hex the store records with every object. */
export const SHA256_METADATA_KEY = 'asm-sha256';

interface GetObjectOutput {
  Body?: { transformToByteArray(): Promise<Uint8Array> };
  Metadata?: Record<string, string>;
}
interface HeadObjectOutput {
  ContentLength?: number;
  ContentType?: string;
  ETag?: string;
  LastModified?: Date;
  Metadata?: Record<string, string>;
}
interface ListObjectsV2Output {
  Contents?: { Key?: string }[];
  IsTruncated?: boolean;
  NextContinuationToken?: string;
}

const BUCKET_NAME = /^[a-z0-9][a-z0-9.\-_]{1,253}[a-z0-9]$/i;

function validateOptions(options: S3ArtifactStoreOptions): void {
  if (typeof options !== 'object' || options === null) {
    throw new AsmError('validation_error', 'createS3ArtifactStore needs options with a bucket');
  }
  if (typeof options.bucket !== 'string' || !BUCKET_NAME.test(options.bucket)) {
    throw new AsmError('validation_error', `Invalid S3 bucket name: ${JSON.stringify(options.bucket)}`, {
      details: { field: 'bucket' },
    });
  }
  if (
    options.prefix !== undefined &&
    (typeof options.prefix !== 'string' || options.prefix.startsWith('/'))
  ) {
    throw new AsmError('validation_error', 'prefix must be a string that does not start with /', {
      details: { field: 'prefix' },
    });
  }
  if (options.client !== undefined && typeof options.client?.send !== 'function') {
    throw new AsmError('validation_error', 'client must be an S3Client (an object with send())', {
      details: { field: 'client' },
    });
  }
  if (options.client !== undefined && options.clientConfig !== undefined) {
    throw new AsmError('validation_error', 'Pass either client or clientConfig, not both', {
      details: { field: 'clientConfig' },
    });
  }
  if (options.checksum !== undefined && options.checksum !== 'sha256' && options.checksum !== 'md5') {
    throw new AsmError('validation_error', "checksum must be 'sha256' or 'md5'", {
      details: { field: 'checksum' },
    });
  }
  if (
    options.timeoutMs !== undefined &&
    (typeof options.timeoutMs !== 'number' || !Number.isFinite(options.timeoutMs) || options.timeoutMs < 0)
  ) {
    throw new AsmError('validation_error', 'timeoutMs must be a non-negative number', {
      details: { field: 'timeoutMs' },
    });
  }
}

const toBytes = (data: Uint8Array | string): Uint8Array =>
  typeof data === 'string' ? new TextEncoder().encode(data) : data;

/**
 * Creates an `ArtifactStore` on Amazon S3 or an S3-compatible service, through `@aws-sdk/client-s3`
 * (an optional peer dependency, loaded with `import()` on the first call; when it is missing the call
 * fails with `dependency_not_available` and the install command). Settings are checked here; no I/O
 * happens until the first call.
 *
 * Contract (proved by `testArtifactStore`): `put` overwrites (one `PutObject`, whole object in
 * memory, no multipart), `get` of a missing key is `undefined` (`NoSuchKey`), `delete` is
 * idempotent, keys are validated before any request. Every `get` checks the bytes against the
 * SHA-256 recorded at `put`; a mismatch is a `storage_read_failed` error with
 * `details.reason: 'checksum_mismatch'`. Failures map to the taxonomy as `mapS3Error` says
 * (throttling, 5xx and network errors are the retryable `storage_connection_failed`).
 *
 * ```ts
 * const artifacts = createS3ArtifactStore({
 *   bucket: 'my-artifacts',
 *   prefix: 'asm/',
 *   clientConfig: { region: 'eu-west-1' },
 * });
 * await artifacts.put('patches/run_1.diff', patch, { contentType: 'text/x-diff' });
 * ```
 */
export function createS3ArtifactStore(options: S3ArtifactStoreOptions): S3ArtifactStore {
  validateOptions(options);
  const bucket = options.bucket;
  const prefix = options.prefix ?? '';
  const checksum = options.checksum ?? 'sha256';
  const timeoutMs = options.timeoutMs ?? 120_000;
  const loadSdk = createSdkCache(options.loadSdk ?? importS3Sdk);
  let ownClient: S3ClientLike | undefined;
  let closed = false;

  const connect = async (operation: S3Operation): Promise<{ sdk: S3SdkModule; client: S3ClientLike }> => {
    if (closed) {
      throw new AsmError('invalid_operation', 'The S3 artifact store is closed', {
        details: { operation, bucket },
      });
    }
    const sdk = await loadSdk(operation);
    if (options.client) return { sdk, client: options.client };
    ownClient ??= new sdk.S3Client({ ...(options.clientConfig ?? {}) });
    return { sdk, client: ownClient };
  };

  /** Runs one call (and whatever reads its body) under the timeout, mapping failures. */
  const call = async <T>(
    operation: S3Operation,
    target: { key?: string; objectKey: string },
    body: (sdk: S3SdkModule, client: S3ClientLike, signal: AbortSignal | undefined) => Promise<T>,
  ): Promise<T> => {
    const { sdk, client } = await connect(operation);
    const signal = timeoutMs > 0 ? AbortSignal.timeout(timeoutMs) : undefined;
    try {
      return await body(sdk, client, signal);
    } catch (error) {
      throw mapS3Error(error, { operation, bucket, ...target, timedOut: signal?.aborted === true });
    }
  };

  const sendOptions = (signal: AbortSignal | undefined) => (signal ? { abortSignal: signal } : undefined);

  const objectKeyOf = (key: string): string => {
    validateArtifactKey(key);
    return `${prefix}${key}`;
  };

  const stat = async (key: string): Promise<S3ArtifactInfo | undefined> => {
    const objectKey = objectKeyOf(key);
    return call('HeadObject', { key, objectKey }, async (sdk, client, signal) => {
      let output: HeadObjectOutput;
      try {
        output = (await client.send(
          new sdk.HeadObjectCommand({ Bucket: bucket, Key: objectKey }),
          sendOptions(signal),
        )) as HeadObjectOutput;
      } catch (error) {
        if (isS3NotFound(error)) return undefined;
        throw error;
      }
      const sha256 = output.Metadata?.[SHA256_METADATA_KEY];
      return {
        key,
        objectKey,
        size: output.ContentLength ?? 0,
        ...(output.ContentType === undefined ? {} : { contentType: output.ContentType }),
        ...(output.ETag === undefined ? {} : { etag: output.ETag }),
        ...(output.LastModified === undefined ? {} : { lastModified: output.LastModified }),
        ...(sha256 === undefined ? {} : { sha256 }),
      } satisfies S3ArtifactInfo;
    });
  };

  return {
    specificationVersion: 'v1',
    bucket,
    prefix,

    async put(key, data, putOptions) {
      const objectKey = objectKeyOf(key);
      const bytes = toBytes(data);
      const sha256 = createHash('sha256').update(bytes);
      const sha256Hex = sha256.copy().digest('hex');
      const input: Record<string, unknown> = {
        Bucket: bucket,
        Key: objectKey,
        Body: bytes,
        ContentLength: bytes.byteLength,
        ContentType:
          putOptions?.contentType ??
          (typeof data === 'string' ? 'text/plain; charset=utf-8' : 'application/octet-stream'),
        Metadata: { [SHA256_METADATA_KEY]: sha256Hex },
      };
      if (checksum === 'sha256') {
        input.ChecksumSHA256 = sha256.digest('base64');
      } else {
        input.ContentMD5 = createHash('md5').update(bytes).digest('base64');
      }
      await call('PutObject', { key, objectKey }, (sdk, client, signal) =>
        client.send(new sdk.PutObjectCommand(input), sendOptions(signal)),
      );
    },

    async get(key) {
      const objectKey = objectKeyOf(key);
      const result = await call('GetObject', { key, objectKey }, async (sdk, client, signal) => {
        let output: GetObjectOutput;
        try {
          output = (await client.send(
            new sdk.GetObjectCommand({
              Bucket: bucket,
              Key: objectKey,
              ...(checksum === 'sha256' ? { ChecksumMode: 'ENABLED' } : {}),
            }),
            sendOptions(signal),
          )) as GetObjectOutput;
        } catch (error) {
          if (isS3NotFound(error)) return undefined;
          throw error;
        }
        // The SDK verifies x-amz-checksum-* while this reads the stream; a mismatch rejects here.
        const bytes = output.Body ? await output.Body.transformToByteArray() : new Uint8Array();
        return { bytes, expected: output.Metadata?.[SHA256_METADATA_KEY] };
      });
      if (result === undefined) return undefined;
      if (result.expected !== undefined) {
        const actual = createHash('sha256').update(result.bytes).digest('hex');
        if (actual !== result.expected.toLowerCase()) {
          throw new AsmError(
            failureCodeOf('GetObject'),
            `Checksum mismatch on S3 GetObject of s3://${bucket}/${objectKey}: the bytes received hash to SHA-256 ${actual}, but ${result.expected} was recorded when the artifact was stored`,
            {
              details: {
                operation: 'GetObject',
                bucket,
                key,
                objectKey,
                reason: 'checksum_mismatch',
                expectedSha256: result.expected,
                actualSha256: actual,
              },
            },
          );
        }
      }
      return result.bytes;
    },

    async delete(key) {
      const objectKey = objectKeyOf(key);
      await call('DeleteObject', { key, objectKey }, async (sdk, client, signal) => {
        try {
          await client.send(
            new sdk.DeleteObjectCommand({ Bucket: bucket, Key: objectKey }),
            sendOptions(signal),
          );
        } catch (error) {
          if (!isS3NotFound(error)) throw error;
        }
      });
    },

    async has(key) {
      return (await stat(key)) !== undefined;
    },

    stat,

    list(listPrefix = '') {
      if (typeof listPrefix !== 'string') {
        throw new AsmError('validation_error', 'list prefix must be a string', {
          details: { field: 'prefix' },
        });
      }
      const objectPrefix = `${prefix}${listPrefix}`;
      return {
        async *[Symbol.asyncIterator]() {
          let token: string | undefined;
          do {
            const page = await call('ListObjectsV2', { objectKey: objectPrefix }, (sdk, client, signal) =>
              client.send(
                new sdk.ListObjectsV2Command({
                  Bucket: bucket,
                  Prefix: objectPrefix,
                  ...(token === undefined ? {} : { ContinuationToken: token }),
                }),
                sendOptions(signal),
              ),
            );
            const output = page as ListObjectsV2Output;
            for (const entry of output.Contents ?? []) {
              if (entry.Key?.startsWith(prefix)) yield entry.Key.slice(prefix.length);
            }
            token = output.IsTruncated ? output.NextContinuationToken : undefined;
          } while (token !== undefined);
        },
      };
    },

    async close() {
      closed = true;
      ownClient?.destroy?.();
      ownClient = undefined;
    },
  } satisfies S3ArtifactStore;
}
