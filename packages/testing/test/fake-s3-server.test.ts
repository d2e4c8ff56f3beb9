import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFakeS3Server, FAKE_S3_FAULTS, type FakeS3Server } from '../src/fakes/index.js';

// The SDK's own requests (real SigV4 signatures, checksums) are exercised by @asm/s3's tests; these
// check the wire details with plain fetch against a server that accepts any well-formed signature.

let server: FakeS3Server;
beforeAll(async () => {
  server = await createFakeS3Server({ buckets: ['b'], credentials: false, maxKeysPerPage: 2 });
});
afterAll(async () => {
  await server?.close();
});

const authorization = (region = 'us-east-1') =>
  `AWS4-HMAC-SHA256 Credential=AKIDTEST/20260101/${region}/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=${'0'.repeat(64)}`;

function send(method: string, path: string, init: { body?: string; headers?: Record<string, string> } = {}) {
  return fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: authorization(), 'x-amz-date': '20260101T000000Z', ...(init.headers ?? {}) },
    ...(init.body === undefined ? {} : { body: init.body }),
  });
}

const errorCode = (xml: string) => /<Code>([^<]+)<\/Code>/.exec(xml)?.[1];

describe('createFakeS3Server', () => {
  it('answers a missing key with a NoSuchKey XML error, and HEAD with a bodyless 404', async () => {
    const response = await send('GET', '/b/missing/key');
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toBe('application/xml');
    expect(response.headers.get('x-amz-request-id')).toMatch(/^FAKE/);
    const xml = await response.text();
    expect(errorCode(xml)).toBe('NoSuchKey');
    expect(xml).toContain('<Key>missing/key</Key>');
    expect(xml).toMatch(/<RequestId>FAKE\d+<\/RequestId>/);
    const head = await send('HEAD', '/b/missing/key');
    expect(head.status).toBe(404);
    expect(await head.text()).toBe('');
    expect(errorCode(await (await send('GET', '/nope/k')).text())).toBe('NoSuchBucket');
  });

  it('stores, reads and deletes objects with metadata, ETag and requested checksums', async () => {
    const sha256 = createHash('sha256').update('hello').digest('base64');
    const put = await send('PUT', '/b/dir/h%20i.txt', {
      body: 'hello',
      headers: { 'content-type': 'text/plain', 'x-amz-meta-owner': 'me', 'x-amz-checksum-sha256': sha256 },
    });
    expect(put.status).toBe(200);
    expect(put.headers.get('etag')).toBe(`"${createHash('md5').update('hello').digest('hex')}"`);
    expect(server.listKeys('b')).toContain('dir/h i.txt');
    const get = await send('GET', '/b/dir/h%20i.txt', { headers: { 'x-amz-checksum-mode': 'ENABLED' } });
    expect(await get.text()).toBe('hello');
    expect(get.headers.get('x-amz-meta-owner')).toBe('me');
    expect(get.headers.get('x-amz-checksum-sha256')).toBe(sha256);
    expect((await send('GET', '/b/dir/h%20i.txt')).headers.get('x-amz-checksum-sha256')).toBeNull();
    expect((await send('DELETE', '/b/dir/h%20i.txt')).status).toBe(204);
    expect((await send('DELETE', '/b/dir/h%20i.txt')).status).toBe(204);
    expect(server.getObject('b', 'dir/h i.txt')).toBeUndefined();
  });

  it('refuses bad digests: Content-MD5, x-amz-checksum-*, x-amz-content-sha256', async () => {
    const md5 = await send('PUT', '/b/d1', {
      body: 'abc',
      headers: { 'content-md5': createHash('md5').update('abd').digest('base64') },
    });
    expect([md5.status, errorCode(await md5.text())]).toEqual([400, 'BadDigest']);
    const invalid = await send('PUT', '/b/d1', { body: 'abc', headers: { 'content-md5': 'short' } });
    expect(errorCode(await invalid.text())).toBe('InvalidDigest');
    const crc = await send('PUT', '/b/d1', { body: 'abc', headers: { 'x-amz-checksum-crc32': 'AAAAAA==' } });
    expect(errorCode(await crc.text())).toBe('BadDigest');
    const crcValue = Buffer.alloc(4);
    crcValue.writeUInt32BE(crc32(Buffer.from('abc')));
    const goodCrc = await send('PUT', '/b/crc', {
      body: 'abc',
      headers: { 'x-amz-checksum-crc32': crcValue.toString('base64') },
    });
    expect(goodCrc.status).toBe(200);
    expect(server.getObject('b', 'crc')?.checksums).toEqual({ crc32: crcValue.toString('base64') });
    const payload = await send('PUT', '/b/d1', {
      body: 'abc',
      headers: { 'x-amz-content-sha256': 'f'.repeat(64) },
    });
    expect(errorCode(await payload.text())).toBe('XAmzContentSHA256Mismatch');
    expect(server.getObject('b', 'd1')).toBeUndefined();
  });

  it('checks authentication: unsigned, wrong region, and (with credentials) wrong signature', async () => {
    const unsigned = await fetch(`${server.url}/b/k`);
    expect([unsigned.status, errorCode(await unsigned.text())]).toEqual([403, 'AccessDenied']);
    const region = await send('GET', '/b/k', { headers: { authorization: authorization('eu-west-1') } });
    expect([region.status, errorCode(await region.text())]).toEqual([400, 'AuthorizationHeaderMalformed']);
    const strict = await createFakeS3Server({ buckets: ['b'] });
    try {
      const forged = await fetch(`${strict.url}/b/k`, {
        headers: {
          authorization: authorization().replace('AKIDTEST', 'AKIAFAKEASMTEST00001'),
          'x-amz-date': '20260101T000000Z',
        },
      });
      expect([forged.status, errorCode(await forged.text())]).toEqual([403, 'SignatureDoesNotMatch']);
      const unknown = await fetch(`${strict.url}/b/k`, {
        headers: { authorization: authorization(), 'x-amz-date': '20260101T000000Z' },
      });
      expect(errorCode(await unknown.text())).toBe('InvalidAccessKeyId');
    } finally {
      await strict.close();
    }
  });

  it('lists with ListObjectsV2: prefix, delimiter, pages and continuation tokens', async () => {
    for (const key of ['l/a/1', 'l/a/2', 'l/b', 'l/c', 'l/d']) await send('PUT', `/b/${key}`, { body: key });
    const first = await (await send('GET', '/b?list-type=2&prefix=l%2F&delimiter=%2F')).text();
    expect(first).toContain('<CommonPrefixes><Prefix>l/a/</Prefix></CommonPrefixes>');
    expect(first).toContain('<Key>l/b</Key>');
    expect(first).toContain('<IsTruncated>true</IsTruncated>');
    const token = /<NextContinuationToken>([^<]+)</.exec(first)?.[1] ?? '';
    const second = await (
      await send(
        'GET',
        `/b?list-type=2&prefix=l%2F&delimiter=%2F&continuation-token=${encodeURIComponent(token)}`,
      )
    ).text();
    expect([...second.matchAll(/<Key>([^<]+)<\/Key>/g)].map((match) => match[1])).toEqual(['l/c', 'l/d']);
    expect(second).toContain('<IsTruncated>false</IsTruncated>');
    const bad = await send('GET', '/b?list-type=2&continuation-token=garbage');
    expect(errorCode(await bad.text())).toBe('InvalidArgument');
  });

  it('answers unsupported operations with 501 NotImplemented', async () => {
    const multipart = await send('POST', '/b/k?uploads');
    expect([multipart.status, errorCode(await multipart.text())]).toEqual([501, 'NotImplemented']);
    const v1 = await send('GET', '/b');
    expect(errorCode(await v1.text())).toBe('NotImplemented');
  });

  it('injects faults by operation and key, a given number of times, and records them', async () => {
    await send('PUT', '/b/f', { body: 'stable' });
    server.inject({ operation: 'GetObject', key: 'f', times: 2, fault: FAKE_S3_FAULTS.slowDown });
    server.inject({ operation: 'GetObject', key: 'f', fault: FAKE_S3_FAULTS.corrupt });
    const statuses: number[] = [];
    for (let attempt = 0; attempt < 2; attempt++) statuses.push((await send('GET', '/b/f')).status);
    expect(statuses).toEqual([503, 503]);
    const corrupted = await (await send('GET', '/b/f')).text();
    expect(corrupted).not.toBe('stable');
    expect(corrupted).toHaveLength('stable'.length);
    expect(await (await send('GET', '/b/f')).text()).toBe('stable');
    const recorded = server.requests.filter((request) => request.key === 'f' && request.method === 'GET');
    expect(recorded.map((request) => [request.operation, request.status, request.fault])).toEqual([
      ['GetObject', 503, 'error'],
      ['GetObject', 503, 'error'],
      ['GetObject', 200, 'corrupt'],
      ['GetObject', 200, undefined],
    ]);
    expect(recorded[0]?.errorCode).toBe('SlowDown');
  });

  it('manages buckets: create, conflict, not-empty delete', async () => {
    expect((await send('PUT', '/fresh')).status).toBe(200);
    expect(errorCode(await (await send('PUT', '/fresh')).text())).toBe('BucketAlreadyOwnedByYou');
    expect((await send('HEAD', '/fresh')).status).toBe(200);
    await send('PUT', '/fresh/k', { body: 'x' });
    expect(errorCode(await (await send('DELETE', '/fresh')).text())).toBe('BucketNotEmpty');
    await send('DELETE', '/fresh/k');
    expect((await send('DELETE', '/fresh')).status).toBe(204);
    expect(await (await send('GET', '/')).text()).toContain('<Name>b</Name>');
  });
});
