import { createHash } from 'node:crypto';
import {
  AsmError,
  classifyError,
  createCompositeArtifactStore,
  createInMemoryArtifactStore,
  isRetryable,
} from '@asm/core';
import { testArtifactStore } from '@asm/testing';
import {
  createFakeS3Server,
  FAKE_S3_CREDENTIALS,
  FAKE_S3_FAULTS,
  type FakeS3Server,
} from '@asm/testing/fakes';
import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createS3ArtifactStore,
  importS3Sdk,
  type S3ArtifactStoreOptions,
  type S3ClientSettings,
  SHA256_METADATA_KEY,
} from '../src/index.js';

const BUCKET = 'artifacts';
let server: FakeS3Server;
let counter = 0;

beforeAll(async () => {
  server = await createFakeS3Server({ buckets: [BUCKET], maxKeysPerPage: 3 });
});
afterAll(async () => {
  await server?.close();
});

const clientConfig = (extra: S3ClientSettings = {}): S3ClientSettings => ({
  endpoint: server.url,
  region: 'us-east-1',
  forcePathStyle: true,
  credentials: { ...FAKE_S3_CREDENTIALS },
  ...extra,
});

/** A store under a fresh prefix, so tests never see each other's objects. */
function store(options: Partial<S3ArtifactStoreOptions> = {}) {
  const prefix = `t${++counter}/`;
  return createS3ArtifactStore({
    bucket: BUCKET,
    prefix,
    ...(options.client ? {} : { clientConfig: clientConfig({ maxAttempts: 1 }) }),
    ...options,
  });
}

async function failure(promise: Promise<unknown>): Promise<AsmError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!AsmError.isInstance(error)) throw new Error(`Expected an AsmError, got ${String(error)}`);
  return error;
}

const requestsFor = (objectKey: string) =>
  server.requests.filter((request) => request.bucket === BUCKET && request.key === objectKey);

testArtifactStore({
  name: 's3 (clientConfig, sha256 checksums)',
  create: () => store(),
  cleanup: (artifacts) => (artifacts as ReturnType<typeof store>).close(),
});

testArtifactStore({
  name: 's3 (injected S3Client, md5 checksums)',
  create: () =>
    store({
      client: new S3Client(
        clientConfig({
          requestChecksumCalculation: 'WHEN_REQUIRED',
          responseChecksumValidation: 'WHEN_REQUIRED',
        }),
      ),
      checksum: 'md5',
    }),
});

describe('createS3ArtifactStore - wire format', () => {
  it('put - sends a signed path-style PutObject with x-amz-checksum-sha256 and the SHA-256 in metadata', async () => {
    const artifacts = store();
    await artifacts.put('patches/one.diff', 'diff --git a b', { contentType: 'text/x-diff' });
    const objectKey = `${artifacts.prefix}patches/one.diff`;
    const [put] = requestsFor(objectKey);
    expect(put).toMatchObject({ method: 'PUT', operation: 'PutObject', status: 200 });
    expect(put?.path).toBe(`/${BUCKET}/${objectKey}`);
    expect(put?.headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIAFAKEASMTEST00001\/\d{8}\/us-east-1\/s3\//,
    );
    const digest = createHash('sha256').update('diff --git a b');
    expect(put?.headers['x-amz-checksum-sha256']).toBe(digest.copy().digest('base64'));
    expect(put?.headers['content-type']).toBe('text/x-diff');
    const stored = server.getObject(BUCKET, objectKey);
    expect(new TextDecoder().decode(stored?.body)).toBe('diff --git a b');
    expect(stored?.metadata[SHA256_METADATA_KEY]).toBe(digest.digest('hex'));
    expect(stored?.checksums.sha256).toBe(put?.headers['x-amz-checksum-sha256']);

    expect(new TextDecoder().decode(await artifacts.get('patches/one.diff'))).toBe('diff --git a b');
    const get = requestsFor(objectKey).find((request) => request.operation === 'GetObject');
    expect(get?.headers['x-amz-checksum-mode']).toBe('ENABLED');
    await artifacts.close();
  });

  it("put - checksum 'md5' sends Content-MD5 instead", async () => {
    const artifacts = store({
      clientConfig: clientConfig({
        maxAttempts: 1,
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
      }),
      checksum: 'md5',
    });
    await artifacts.put('m', new Uint8Array([1, 2, 3]));
    const [put] = requestsFor(`${artifacts.prefix}m`);
    expect(put?.headers['content-md5']).toBe(
      createHash('md5')
        .update(new Uint8Array([1, 2, 3]))
        .digest('base64'),
    );
    expect(put?.headers['x-amz-checksum-sha256']).toBeUndefined();
    expect(put?.headers['content-type']).toBe('application/octet-stream');
    await artifacts.close();
  });

  it("checksum 'md5' with the SDK's default CRC32 upload checksum: S3 verifies both", async () => {
    const artifacts = store({ checksum: 'md5' });
    await artifacts.put('both', 'two digests');
    const [put] = requestsFor(`${artifacts.prefix}both`);
    expect(put?.headers['content-md5']).toBeDefined();
    expect(put?.headers['x-amz-checksum-crc32']).toBeDefined();
    expect(put?.status).toBe(200);
    expect(new TextDecoder().decode(await artifacts.get('both'))).toBe('two digests');
    await artifacts.close();
  });

  it('stat - reads size, type and the recorded SHA-256 with HeadObject; undefined when absent', async () => {
    const artifacts = store();
    await artifacts.put('s.txt', 'hello');
    expect(await artifacts.stat('s.txt')).toMatchObject({
      key: 's.txt',
      objectKey: `${artifacts.prefix}s.txt`,
      size: 5,
      contentType: 'text/plain; charset=utf-8',
      sha256: '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824',
    });
    expect(await artifacts.stat('nope')).toBeUndefined();
    expect(await artifacts.has('s.txt')).toBe(true);
    expect(await artifacts.has('nope')).toBe(false);
    expect(requestsFor(`${artifacts.prefix}nope`)[0]).toMatchObject({ operation: 'HeadObject', status: 404 });
    await artifacts.close();
  });

  it('list - pages through ListObjectsV2 and strips the store prefix', async () => {
    const artifacts = store();
    const keys = ['a/1', 'a/2', 'a/3', 'a/4', 'a/5', 'a/6', 'a/7', 'b/1'];
    for (const key of keys) await artifacts.put(key, key);
    const listed: string[] = [];
    for await (const key of artifacts.list('a/')) listed.push(key);
    expect(listed).toEqual(keys.slice(0, 7));
    const pages = server.requests.filter(
      (request) => request.operation === 'ListObjectsV2' && request.query.prefix === `${artifacts.prefix}a/`,
    );
    expect(pages).toHaveLength(3); // 3 + 3 + 1 with the fake's 3-key pages
    expect(pages[1]?.query['continuation-token']).toBeTruthy();
    const all: string[] = [];
    for await (const key of artifacts.list()) all.push(key);
    expect(all).toEqual(keys);
    await artifacts.close();
  });

  it('rejects a bad key before sending anything', async () => {
    const artifacts = store();
    const before = server.requests.length;
    expect((await failure(artifacts.get('../x'))).code).toBe('validation_error');
    expect((await failure(artifacts.delete('/x'))).code).toBe('validation_error');
    expect(server.requests.length).toBe(before);
    await artifacts.close();
  });
});

describe('createS3ArtifactStore - failures', () => {
  it('a single 503 SlowDown is retried by the SDK and the put succeeds', async () => {
    const artifacts = store({ clientConfig: clientConfig({ maxAttempts: 3 }) });
    const objectKey = `${artifacts.prefix}retry`;
    server.inject({ operation: 'PutObject', key: objectKey, fault: FAKE_S3_FAULTS.slowDown });
    await artifacts.put('retry', 'ok');
    expect(requestsFor(objectKey).map((request) => [request.status, request.errorCode])).toEqual([
      [503, 'SlowDown'],
      [200, undefined],
    ]);
    expect(new TextDecoder().decode(await artifacts.get('retry'))).toBe('ok');
    await artifacts.close();
  });

  it('throttling that outlasts the retries is a retryable storage_connection_failed', async () => {
    const artifacts = store({ clientConfig: clientConfig({ maxAttempts: 2 }) });
    const objectKey = `${artifacts.prefix}busy`;
    server.inject({
      operation: 'PutObject',
      key: objectKey,
      times: Number.POSITIVE_INFINITY,
      fault: FAKE_S3_FAULTS.slowDown,
    });
    const error = await failure(artifacts.put('busy', 'x'));
    expect(error.code).toBe('storage_connection_failed');
    expect(error.retryable).toBe(true);
    expect(isRetryable(error)).toBe(true);
    expect(classifyError(error)).toBe('retry');
    expect(error.details).toMatchObject({
      operation: 'PutObject',
      bucket: BUCKET,
      key: 'busy',
      objectKey,
      reason: 'throttled',
      s3Code: 'SlowDown',
      httpStatus: 503,
      attempts: 2,
    });
    expect(error.details.requestId).toMatch(/^FAKE/);
    expect(requestsFor(objectKey)).toHaveLength(2);
    await artifacts.close();
  });

  it('a 500 InternalError on get is a retryable storage_connection_failed', async () => {
    const artifacts = store();
    await artifacts.put('five', 'x');
    server.inject({
      operation: 'GetObject',
      key: `${artifacts.prefix}five`,
      fault: FAKE_S3_FAULTS.internalError,
    });
    const error = await failure(artifacts.get('five'));
    expect(error.code).toBe('storage_connection_failed');
    expect(error.details).toMatchObject({ reason: 'server_error', s3Code: 'InternalError', httpStatus: 500 });
    await artifacts.close();
  });

  it('403 AccessDenied is a non-retryable read or write failure naming the permission', async () => {
    const artifacts = store();
    const objectKey = `${artifacts.prefix}secret`;
    server.inject({ operation: 'PutObject', key: objectKey, fault: FAKE_S3_FAULTS.accessDenied });
    const write = await failure(artifacts.put('secret', 'x'));
    expect(write.code).toBe('storage_write_failed');
    expect(write.retryable).toBe(false);
    expect(write.details).toMatchObject({ reason: 'access_denied', s3Code: 'AccessDenied', httpStatus: 403 });
    expect(write.message).toContain('s3:PutObject');
    server.inject({ operation: 'GetObject', key: objectKey, fault: FAKE_S3_FAULTS.accessDenied });
    const read = await failure(artifacts.get('secret'));
    expect(read.code).toBe('storage_read_failed');
    expect(read.details.reason).toBe('access_denied');
    await artifacts.close();
  });

  it('a wrong secret key fails SigV4 verification: SignatureDoesNotMatch, access_denied', async () => {
    const artifacts = store({
      clientConfig: clientConfig({
        maxAttempts: 1,
        credentials: { accessKeyId: FAKE_S3_CREDENTIALS.accessKeyId, secretAccessKey: 'not-the-secret' },
      }),
    });
    const error = await failure(artifacts.put('k', 'x'));
    expect(error.code).toBe('storage_write_failed');
    expect(error.details).toMatchObject({ reason: 'access_denied', s3Code: 'SignatureDoesNotMatch' });
    await artifacts.close();
  });

  it('a missing bucket is a non-retryable failure that says so', async () => {
    const artifacts = createS3ArtifactStore({
      bucket: 'no-such-bucket',
      clientConfig: clientConfig({ maxAttempts: 1 }),
    });
    const error = await failure(artifacts.put('k', 'x'));
    expect(error.code).toBe('storage_write_failed');
    expect(error.details).toMatchObject({
      reason: 'no_such_bucket',
      s3Code: 'NoSuchBucket',
      httpStatus: 404,
    });
    // A missing bucket is not a missing key: get must not answer undefined.
    expect((await failure(artifacts.get('k'))).details.reason).toBe('no_such_bucket');
    await artifacts.close();
  });

  it('a dropped connection is a retryable network failure', async () => {
    const artifacts = store();
    await artifacts.put('drop', 'x');
    server.inject({
      operation: 'GetObject',
      key: `${artifacts.prefix}drop`,
      fault: FAKE_S3_FAULTS.disconnect,
    });
    const error = await failure(artifacts.get('drop'));
    expect(error.code).toBe('storage_connection_failed');
    expect(error.details.reason).toBe('network');
    expect(error.retryable).toBe(true);
    await artifacts.close();
  });

  it('a refused connection is a retryable network failure', async () => {
    const closed = await createFakeS3Server();
    const url = closed.url;
    await closed.close();
    const artifacts = createS3ArtifactStore({
      bucket: BUCKET,
      clientConfig: { ...clientConfig({ maxAttempts: 1 }), endpoint: url },
    });
    const error = await failure(artifacts.get('k'));
    expect(error.code).toBe('storage_connection_failed');
    expect(error.details.reason).toBe('network');
    await artifacts.close();
  });

  it('a stalled call fails with timeout after timeoutMs', async () => {
    const artifacts = store({ timeoutMs: 300 });
    server.inject({ operation: 'GetObject', key: `${artifacts.prefix}slow`, fault: FAKE_S3_FAULTS.stall });
    const error = await failure(artifacts.get('slow'));
    expect(error.code).toBe('timeout');
    expect(error.retryable).toBe(true);
    expect(error.details).toMatchObject({ operation: 'GetObject', reason: 'timeout' });
    await artifacts.close();
  });
});

describe('createS3ArtifactStore - integrity', () => {
  it('a body corrupted on the way up is refused by S3 (BadDigest) and nothing is stored', async () => {
    const artifacts = store();
    const objectKey = `${artifacts.prefix}up`;
    server.inject({ operation: 'PutObject', key: objectKey, fault: FAKE_S3_FAULTS.corrupt });
    const error = await failure(artifacts.put('up', 'precious bytes'));
    expect(error.code).toBe('storage_write_failed');
    expect(error.details).toMatchObject({
      reason: 'checksum_mismatch',
      s3Code: 'BadDigest',
      httpStatus: 400,
    });
    expect(error.message).toMatch(/^Checksum mismatch on S3 PutObject/);
    expect(server.getObject(BUCKET, objectKey)).toBeUndefined();
    await artifacts.close();
  });

  it("with checksum 'md5', S3 refuses a corrupted upload through Content-MD5", async () => {
    const artifacts = store({
      clientConfig: clientConfig({ maxAttempts: 1, requestChecksumCalculation: 'WHEN_REQUIRED' }),
      checksum: 'md5',
    });
    const objectKey = `${artifacts.prefix}up-md5`;
    server.inject({ operation: 'PutObject', key: objectKey, fault: FAKE_S3_FAULTS.corrupt });
    const error = await failure(artifacts.put('up-md5', 'precious bytes'));
    expect(error.details).toMatchObject({ reason: 'checksum_mismatch', s3Code: 'BadDigest' });
    expect(server.getObject(BUCKET, objectKey)).toBeUndefined();
    await artifacts.close();
  });

  it('a body corrupted on the way down is caught by the SDK checksum (x-amz-checksum-sha256)', async () => {
    const artifacts = store();
    await artifacts.put('down', 'precious bytes');
    server.inject({ operation: 'GetObject', key: `${artifacts.prefix}down`, fault: FAKE_S3_FAULTS.corrupt });
    const error = await failure(artifacts.get('down'));
    expect(error.code).toBe('storage_read_failed');
    expect(error.retryable).toBe(false);
    expect(error.details).toMatchObject({ operation: 'GetObject', key: 'down', reason: 'checksum_mismatch' });
    expect(error.message).toMatch(/^Checksum mismatch on S3 GetObject/);
    // The next read, not corrupted, works.
    expect(new TextDecoder().decode(await artifacts.get('down'))).toBe('precious bytes');
    await artifacts.close();
  });

  it('without server checksums, the SHA-256 recorded in metadata catches a corrupted body', async () => {
    const artifacts = store({
      clientConfig: clientConfig({
        maxAttempts: 1,
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
      }),
      checksum: 'md5',
    });
    await artifacts.put('meta', 'precious bytes');
    const objectKey = `${artifacts.prefix}meta`;
    server.inject({ operation: 'GetObject', key: objectKey, fault: FAKE_S3_FAULTS.corrupt });
    const error = await failure(artifacts.get('meta'));
    const get = requestsFor(objectKey).find((request) => request.operation === 'GetObject');
    expect(get?.headers['x-amz-checksum-mode']).toBeUndefined(); // so only our own check can catch it
    expect(error.code).toBe('storage_read_failed');
    expect(error.details).toMatchObject({
      reason: 'checksum_mismatch',
      expectedSha256: server.getObject(BUCKET, objectKey)?.metadata[SHA256_METADATA_KEY],
    });
    expect(error.details.actualSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(error.details.actualSha256).not.toBe(error.details.expectedSha256);
    await artifacts.close();
  });

  it('bit rot at rest fails every read, in both checksum modes', async () => {
    const sha = store();
    await sha.put('rot', 'precious bytes');
    server.setObjectBody(BUCKET, `${sha.prefix}rot`, 'precious bytez');
    expect((await failure(sha.get('rot'))).details.reason).toBe('checksum_mismatch');
    const md5 = store({
      clientConfig: clientConfig({
        maxAttempts: 1,
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
      }),
      checksum: 'md5',
    });
    await md5.put('rot', 'precious bytes');
    server.setObjectBody(BUCKET, `${md5.prefix}rot`, 'precious bytez');
    expect((await failure(md5.get('rot'))).details.reason).toBe('checksum_mismatch');
    await sha.close();
    await md5.close();
  });
});

describe('createS3ArtifactStore - settings and lifecycle', () => {
  it('checks settings eagerly and sends nothing', () => {
    const before = server.requests.length;
    const invalid = (options: unknown) => {
      try {
        createS3ArtifactStore(options as S3ArtifactStoreOptions);
        return undefined;
      } catch (error) {
        return AsmError.isInstance(error) ? error.details.field : String(error);
      }
    };
    expect(invalid({ bucket: '' })).toBe('bucket');
    expect(invalid({ bucket: 'ok-bucket', prefix: '/abs/' })).toBe('prefix');
    expect(invalid({ bucket: 'ok-bucket', client: new S3Client({}), clientConfig: {} })).toBe('clientConfig');
    expect(invalid({ bucket: 'ok-bucket', client: {} })).toBe('client');
    expect(invalid({ bucket: 'ok-bucket', checksum: 'crc32' })).toBe('checksum');
    expect(invalid({ bucket: 'ok-bucket', timeoutMs: -1 })).toBe('timeoutMs');
    expect(invalid({ bucket: 'ok-bucket' })).toBeUndefined();
    expect(server.requests.length).toBe(before);
  });

  it('without @aws-sdk/client-s3 the first call fails with dependency_not_available and the install command', async () => {
    let attempts = 0;
    const artifacts = store({
      loadSdk: async () => {
        attempts += 1;
        if (attempts === 1) {
          throw Object.assign(new Error("Cannot find package '@aws-sdk/client-s3'"), {
            code: 'ERR_MODULE_NOT_FOUND',
          });
        }
        return importS3Sdk();
      },
    });
    const error = await failure(artifacts.put('k', 'x'));
    expect(error.code).toBe('dependency_not_available');
    expect(error.details).toEqual({ dependency: '@aws-sdk/client-s3', operation: 'PutObject' });
    expect(error.message).toContain('npm install @aws-sdk/client-s3');
    // Not cached: once the SDK can be loaded, the store works.
    await artifacts.put('k', 'x');
    expect(new TextDecoder().decode(await artifacts.get('k'))).toBe('x');
    await artifacts.close();
  });

  it('close - later calls fail with invalid_operation; an injected client stays usable', async () => {
    const client = new S3Client(clientConfig());
    const artifacts = store({ client });
    await artifacts.put('c', 'x');
    await artifacts.close();
    await artifacts.close();
    expect((await failure(artifacts.get('c'))).code).toBe('invalid_operation');
    const head = await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: `${artifacts.prefix}c` }));
    expect(head.ContentLength).toBe(1);
    client.destroy();
  });
});

describe('createS3ArtifactStore - in a composite store', () => {
  it('local primary with S3 as write-through copy: an S3 outage is reported, reads fall back to S3', async () => {
    const local = createInMemoryArtifactStore();
    const remote = store({ clientConfig: clientConfig({ maxAttempts: 1 }) });
    const reported: string[] = [];
    const composite = createCompositeArtifactStore({
      primary: local,
      secondaries: [remote],
      secondaryWrites: 'best_effort',
      onSecondaryError: (error, context) =>
        reported.push(`${context.operation} ${error.code} ${error.details.reason}`),
    });
    await composite.put('kept', 'both copies');
    expect(new TextDecoder().decode(await remote.get('kept'))).toBe('both copies');
    server.inject({
      operation: 'PutObject',
      key: `${remote.prefix}local-only`,
      fault: FAKE_S3_FAULTS.slowDown,
    });
    await composite.put('local-only', 'x');
    expect(reported).toEqual(['put storage_connection_failed throttled']);
    expect(await remote.has('local-only')).toBe(false);
    await local.delete('kept'); // the local disk lost it: the read falls back to S3 and repairs
    expect(new TextDecoder().decode(await composite.get('kept'))).toBe('both copies');
    expect(new TextDecoder().decode(await local.get('kept'))).toBe('both copies');
    await remote.close();
  });

  it('routes a prefix to S3 and passes its errors through', async () => {
    const remote = store();
    const composite = createCompositeArtifactStore({
      primary: createInMemoryArtifactStore(),
      routes: [{ prefix: 'patches/', store: remote }],
    });
    await composite.put('patches/p1', 'diff');
    expect(server.getObject(BUCKET, `${remote.prefix}patches/p1`)).toBeDefined();
    server.inject({
      operation: 'GetObject',
      key: `${remote.prefix}patches/p1`,
      fault: FAKE_S3_FAULTS.accessDenied,
    });
    const error = await failure(composite.get('patches/p1'));
    expect(error.code).toBe('storage_read_failed');
    expect(error.details.reason).toBe('access_denied');
    await remote.close();
  });
});
