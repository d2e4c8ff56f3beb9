import { createHash, createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A fake S3 service on 127.0.0.1 for hermetic tests of anything built on `@aws-sdk/client-s3` (or
 * any S3 client that can use path-style addressing): it speaks the S3 REST wire format the SDK
 * uses, checks SigV4 signatures, payload hashes, `Content-MD5` and `x-amz-checksum-*` headers like
 * S3 does, records every request, and injects faults (S3 error responses such as `503 SlowDown` or
 * `403 AccessDenied`, corrupted bodies, dropped connections, stalls).
 *
 * Supported operations (path-style: `http://127.0.0.1:<port>/<bucket>/<key>`): `PutObject`,
 * `GetObject`, `HeadObject`, `DeleteObject`, `ListObjectsV2` (prefix, delimiter, max-keys,
 * continuation-token, start-after, encoding-type=url), `CreateBucket`, `HeadBucket`, `DeleteBucket`
 * and `ListBuckets`. Anything else gets a `501 NotImplemented` S3 error, so an unsupported call fails
 * loudly instead of pretending to work.
 */

/** The S3 operations the fake understands, as recorded in `FakeS3Request.operation`. */
export type FakeS3Operation =
  | 'PutObject'
  | 'GetObject'
  | 'HeadObject'
  | 'DeleteObject'
  | 'ListObjectsV2'
  | 'CreateBucket'
  | 'HeadBucket'
  | 'DeleteBucket'
  | 'ListBuckets'
  | 'Unsupported';

/** What an injected fault does to the request it matches. */
export type FakeS3Fault =
  | {
      /** Answer with an S3 error: `status`, and an XML `<Error>` body with `code` (none for HEAD). */
      type: 'error';
      status: number;
      code: string;
      message?: string;
      headers?: Record<string, string>;
    }
  | {
      /**
       * Flip one byte of the payload: for `PutObject`, of the body the server received (before it
       * checks digests and stores it); for `GetObject`, of the body it sends (headers unchanged).
       */
      type: 'corrupt';
    }
  | {
      /** Drop the connection without answering. */
      type: 'disconnect';
    }
  | {
      /** Never answer; the connection stays open until the client gives up or the server closes. */
      type: 'stall';
    };

/** Which requests a fault applies to, and how many times. */
export interface FakeS3FaultRule {
  /** Default: every operation. */
  operation?: FakeS3Operation;
  bucket?: string;
  /** The object key as stored (with any store prefix). Default: every key. */
  key?: string;
  /** How many matching requests get the fault. Default 1; `Infinity` for all of them. */
  times?: number;
  fault: FakeS3Fault;
}

/** Ready-made S3 error faults with the status, code and message real S3 uses. */
export const FAKE_S3_FAULTS = {
  slowDown: { type: 'error', status: 503, code: 'SlowDown', message: 'Please reduce your request rate.' },
  serviceUnavailable: {
    type: 'error',
    status: 503,
    code: 'ServiceUnavailable',
    message: 'Service is unable to handle request.',
  },
  internalError: {
    type: 'error',
    status: 500,
    code: 'InternalError',
    message: 'We encountered an internal error. Please try again.',
  },
  accessDenied: { type: 'error', status: 403, code: 'AccessDenied', message: 'Access Denied' },
  corrupt: { type: 'corrupt' },
  disconnect: { type: 'disconnect' },
  stall: { type: 'stall' },
} as const satisfies Record<string, FakeS3Fault>;

/** One recorded request. */
export interface FakeS3Request {
  /** 1 for the first request the server received. */
  index: number;
  method: string;
  /** The raw (still percent-encoded) path. */
  path: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  operation: FakeS3Operation;
  bucket?: string;
  /** The decoded object key. */
  key?: string;
  /** The payload as received (before any `corrupt` fault). */
  body: Uint8Array;
  /** The `x-amz-request-id` the fake answered with. */
  requestId: string;
  /** The HTTP status sent; undefined while pending, or when the connection was dropped or stalled. */
  status?: number;
  /** The S3 error code sent, if any. */
  errorCode?: string;
  /** The fault applied to this request, if any. */
  fault?: FakeS3Fault['type'];
}

/** An object as the fake holds it. */
export interface FakeS3Object {
  body: Uint8Array;
  contentType: string;
  /** `x-amz-meta-*` headers, lowercase names without the prefix. */
  metadata: Record<string, string>;
  /** Checksums sent with the upload and verified, by algorithm (`sha256`, `crc32`, …), base64. */
  checksums: Record<string, string>;
  /** Quoted MD5 hex of the body, as S3 reports it. */
  etag: string;
  lastModified: Date;
}

/** Options of `createFakeS3Server`. */
export interface FakeS3ServerOptions {
  /** Buckets that exist from the start. Default none (`CreateBucket` or `server.createBucket`). */
  buckets?: string[];
  /** The region requests must be signed for. Default `us-east-1`. */
  region?: string;
  /**
   * The only credentials the server accepts; SigV4 signatures are verified with them. Default
   * `FAKE_S3_CREDENTIALS`. `false` accepts any signed request without checking the signature.
   */
  credentials?: { accessKeyId: string; secretAccessKey: string } | false;
  /** Most keys one `ListObjectsV2` page returns, whatever `max-keys` asks (S3: 1000). Default 1000. */
  maxKeysPerPage?: number;
}

/** A running fake S3 service. */
export interface FakeS3Server {
  /** `http://127.0.0.1:<port>`: the client's `endpoint` (with `forcePathStyle: true`). */
  readonly url: string;
  readonly port: number;
  readonly region: string;
  /** Every request received, in order. */
  readonly requests: FakeS3Request[];
  /** Adds a fault rule; rules are tried in the order they were added. */
  inject(rule: FakeS3FaultRule): void;
  /** Creates a bucket (no-op when it exists). */
  createBucket(name: string): void;
  /** The stored object, or undefined. */
  getObject(bucket: string, key: string): FakeS3Object | undefined;
  /** Replaces an object's bytes and nothing else (bit rot at rest: stored checksums no longer match). */
  setObjectBody(bucket: string, key: string, body: Uint8Array | string): void;
  /** Keys of a bucket, sorted. */
  listKeys(bucket: string): string[];
  /** Forgets recorded requests and fault rules (objects and buckets stay). */
  reset(): void;
  /** Stops the server, closing open (stalled) connections. */
  close(): Promise<void>;
}

/** The credentials the fake accepts by default; configure the client with them. */
export const FAKE_S3_CREDENTIALS = {
  accessKeyId: 'AKIAFAKEASMTEST00001',
  secretAccessKey: 'fake/secret/key/for/asm/tests/only/0000000',
} as const;

const UNSUPPORTED_SUBRESOURCES = new Set([
  'acl',
  'attributes',
  'cors',
  'delete',
  'legal-hold',
  'lifecycle',
  'location',
  'partNumber',
  'policy',
  'restore',
  'retention',
  'select',
  'tagging',
  'torrent',
  'uploadId',
  'uploads',
  'versionId',
  'versioning',
  'versions',
]);

const CHECKSUM_HEADERS: Record<string, string> = {
  'x-amz-checksum-sha256': 'sha256',
  'x-amz-checksum-sha1': 'sha1',
  'x-amz-checksum-crc32': 'crc32',
  'x-amz-checksum-crc32c': 'crc32c',
  'x-amz-checksum-crc64nvme': 'crc64nvme',
};

const xmlEscape = (value: string): string =>
  value.replace(/[<>&'"]/g, (character) => `&#${character.charCodeAt(0)};`);

/** S3's URI encoding (RFC 3986 unreserved characters kept). */
const uriEncode = (value: string): string =>
  encodeURIComponent(value).replace(
    /[!'()*]/g,
    (character) => `%${character.charCodeAt(0).toString(16).toUpperCase()}`,
  );

/** CRC-32 (IEEE, as in `x-amz-checksum-crc32`); `zlib.crc32` only exists from Node 20.15. */
const CRC32_TABLE = Array.from({ length: 256 }, (_, index) => {
  let value = index;
  for (let bit = 0; bit < 8; bit++) value = value & 1 ? 0xedb88320 ^ (value >>> 1) : value >>> 1;
  return value >>> 0;
});
function crc32(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of data) crc = (CRC32_TABLE[(crc ^ byte) & 0xff] as number) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

const sha256Hex = (data: Uint8Array | string): string => createHash('sha256').update(data).digest('hex');

function readBytes(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function computeChecksum(algorithm: string, body: Uint8Array): string | undefined {
  switch (algorithm) {
    case 'sha256':
    case 'sha1':
      return createHash(algorithm).update(body).digest('base64');
    case 'crc32': {
      const value = Buffer.alloc(4);
      value.writeUInt32BE(crc32(body) >>> 0);
      return value.toString('base64');
    }
    default:
      return undefined; // crc32c and crc64nvme are stored without being verified
  }
}

/** The parts of a SigV4 `Authorization` header. */
interface ParsedAuthorization {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
}

function parseAuthorization(header: string | undefined): ParsedAuthorization | undefined {
  const match =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(
      header ?? '',
    );
  if (!match) return undefined;
  const [, accessKeyId, date, region, service, signedHeaders, signature] = match;
  return {
    accessKeyId: accessKeyId as string,
    date: date as string,
    region: region as string,
    service: service as string,
    signedHeaders: (signedHeaders as string).split(';'),
    signature: signature as string,
  };
}

/** The signature SigV4 gives this request with this secret (S3 flavour: the path is not re-encoded). */
function expectedSignature(
  req: IncomingMessage,
  rawPath: string,
  rawQuery: string,
  auth: ParsedAuthorization,
  secretAccessKey: string,
): string {
  const query = new URLSearchParams(rawQuery);
  const canonicalQuery = [...query.entries()]
    .map(([name, value]) => [uriEncode(name), uriEncode(value)] as const)
    .sort(([a, aValue], [b, bValue]) =>
      a < b ? -1 : a > b ? 1 : aValue < bValue ? -1 : aValue > bValue ? 1 : 0,
    )
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
  const canonicalHeaders = auth.signedHeaders
    .map((name) => {
      const value = req.headers[name];
      const joined = Array.isArray(value) ? value.join(',') : (value ?? '');
      return `${name}:${joined.trim().replace(/\s+/g, ' ')}\n`;
    })
    .join('');
  const payloadHash = String(req.headers['x-amz-content-sha256'] ?? 'UNSIGNED-PAYLOAD');
  const canonicalRequest = [
    req.method ?? 'GET',
    rawPath,
    canonicalQuery,
    canonicalHeaders,
    auth.signedHeaders.join(';'),
    payloadHash,
  ].join('\n');
  const scope = `${auth.date}/${auth.region}/${auth.service}/aws4_request`;
  const stringToSign = [
    'AWS4-HMAC-SHA256',
    String(req.headers['x-amz-date'] ?? ''),
    scope,
    sha256Hex(canonicalRequest),
  ].join('\n');
  let key: Buffer = createHmac('sha256', `AWS4${secretAccessKey}`).update(auth.date).digest();
  for (const part of [auth.region, auth.service, 'aws4_request']) {
    key = createHmac('sha256', key).update(part).digest();
  }
  return createHmac('sha256', key).update(stringToSign).digest('hex');
}

function classify(
  method: string,
  bucket: string | undefined,
  key: string | undefined,
  query: URLSearchParams,
): FakeS3Operation {
  const names = [...query.keys()];
  if (names.some((name) => UNSUPPORTED_SUBRESOURCES.has(name))) return 'Unsupported';
  if (bucket === undefined) return method === 'GET' ? 'ListBuckets' : 'Unsupported';
  if (key === undefined) {
    if (method === 'PUT') return 'CreateBucket';
    if (method === 'HEAD') return 'HeadBucket';
    if (method === 'DELETE') return 'DeleteBucket';
    if (method === 'GET' && query.get('list-type') === '2') return 'ListObjectsV2';
    return 'Unsupported';
  }
  if (method === 'PUT') return query.has('x-amz-copy-source') ? 'Unsupported' : 'PutObject';
  if (method === 'GET') return 'GetObject';
  if (method === 'HEAD') return 'HeadObject';
  if (method === 'DELETE') return 'DeleteObject';
  return 'Unsupported';
}

const flipOneByte = (body: Uint8Array): Uint8Array => {
  const copy = Buffer.from(body);
  if (copy.length === 0) return Buffer.from('x');
  const index = Math.floor(copy.length / 2);
  copy[index] = (copy[index] ?? 0) ^ 0xff;
  return copy;
};

/**
 * Starts a fake S3 service on 127.0.0.1 (a free port). Has no test-runner dependency.
 *
 * ```ts
 * const server = await createFakeS3Server({ buckets: ['artifacts'] });
 * const client = new S3Client({
 *   endpoint: server.url,
 *   region: 'us-east-1',
 *   forcePathStyle: true,
 *   credentials: FAKE_S3_CREDENTIALS,
 * });
 * server.inject({ operation: 'PutObject', fault: FAKE_S3_FAULTS.slowDown }); // the next put gets a 503
 * await client.send(new PutObjectCommand({ Bucket: 'artifacts', Key: 'a', Body: 'x' })); // retried by the SDK
 * server.requests.map((request) => request.status); // [503, 200]
 * await server.close();
 * ```
 */
export async function createFakeS3Server(options: FakeS3ServerOptions = {}): Promise<FakeS3Server> {
  const region = options.region ?? 'us-east-1';
  const credentials = options.credentials === undefined ? FAKE_S3_CREDENTIALS : options.credentials;
  const buckets = new Map<string, Map<string, FakeS3Object>>();
  for (const name of options.buckets ?? []) buckets.set(name, new Map());
  const requests: FakeS3Request[] = [];
  const rules: (FakeS3FaultRule & { remaining: number })[] = [];
  let requestCounter = 0;

  const takeFault = (request: FakeS3Request): FakeS3Fault | undefined => {
    for (const rule of rules) {
      if (rule.remaining <= 0) continue;
      if (rule.operation !== undefined && rule.operation !== request.operation) continue;
      if (rule.bucket !== undefined && rule.bucket !== request.bucket) continue;
      if (rule.key !== undefined && rule.key !== request.key) continue;
      rule.remaining -= 1;
      return rule.fault;
    }
    return undefined;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const index = ++requestCounter;
    const requestId = `FAKE${index.toString().padStart(12, '0')}`;
    const hostId = randomBytes(12).toString('base64');
    const rawUrl = req.url ?? '/';
    const questionMark = rawUrl.indexOf('?');
    const rawPath = questionMark === -1 ? rawUrl : rawUrl.slice(0, questionMark);
    const rawQuery = questionMark === -1 ? '' : rawUrl.slice(questionMark + 1);
    const query = new URLSearchParams(rawQuery);
    const method = req.method ?? 'GET';
    const segments = rawPath.replace(/^\//, '');
    const slash = segments.indexOf('/');
    const bucket =
      segments === '' ? undefined : decodeURIComponent(slash === -1 ? segments : segments.slice(0, slash));
    const key =
      slash === -1 || slash === segments.length - 1
        ? undefined
        : decodeURIComponent(segments.slice(slash + 1));
    const received = await readBytes(req);
    const request: FakeS3Request = {
      index,
      method,
      path: rawPath,
      query: Object.fromEntries(query),
      headers: req.headers,
      operation: classify(method, bucket, key, query),
      ...(bucket === undefined ? {} : { bucket }),
      ...(key === undefined ? {} : { key }),
      body: new Uint8Array(received),
      requestId,
    };
    requests.push(request);

    const baseHeaders = { 'x-amz-request-id': requestId, 'x-amz-id-2': hostId, server: 'AmazonS3' };
    const sendError = (
      status: number,
      code: string,
      message: string,
      extra: Record<string, string> = {},
      headers: Record<string, string> = {},
    ): void => {
      request.status = status;
      request.errorCode = code;
      if (method === 'HEAD') {
        res.writeHead(status, { ...baseHeaders, ...headers });
        res.end();
        return;
      }
      const fields = Object.entries(extra)
        .map(([name, value]) => `<${name}>${xmlEscape(value)}</${name}>`)
        .join('');
      const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${xmlEscape(code)}</Code><Message>${xmlEscape(message)}</Message>${fields}<RequestId>${requestId}</RequestId><HostId>${hostId}</HostId></Error>`;
      res.writeHead(status, { ...baseHeaders, 'content-type': 'application/xml', ...headers });
      res.end(xml);
    };
    const sendXml = (xml: string): void => {
      request.status = 200;
      res.writeHead(200, { ...baseHeaders, 'content-type': 'application/xml' });
      res.end(`<?xml version="1.0" encoding="UTF-8"?>\n${xml}`);
    };

    // Authentication, as S3 does it: a well-formed SigV4 header for this region, known key, valid signature.
    const auth = parseAuthorization(req.headers.authorization);
    if (!auth) {
      sendError(403, 'AccessDenied', 'Access Denied: the request is not signed with AWS Signature Version 4');
      return;
    }
    if (auth.region !== region || auth.service !== 's3') {
      sendError(
        400,
        'AuthorizationHeaderMalformed',
        `The authorization header is malformed; the region '${auth.region}' is wrong; expecting '${region}'`,
        { Region: region },
      );
      return;
    }
    if (credentials) {
      if (auth.accessKeyId !== credentials.accessKeyId) {
        sendError(
          403,
          'InvalidAccessKeyId',
          'The AWS Access Key Id you provided does not exist in our records.',
          {
            AWSAccessKeyId: auth.accessKeyId,
          },
        );
        return;
      }
      if (expectedSignature(req, rawPath, rawQuery, auth, credentials.secretAccessKey) !== auth.signature) {
        sendError(
          403,
          'SignatureDoesNotMatch',
          'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
          { AWSAccessKeyId: auth.accessKeyId },
        );
        return;
      }
    }
    const payloadHash = req.headers['x-amz-content-sha256'];
    if (
      typeof payloadHash === 'string' &&
      /^[0-9a-f]{64}$/.test(payloadHash) &&
      payloadHash !== sha256Hex(received)
    ) {
      sendError(
        400,
        'XAmzContentSHA256Mismatch',
        "The provided 'x-amz-content-sha256' header does not match what was computed.",
        { ClientComputedContentSHA256: payloadHash, S3ComputedContentSHA256: sha256Hex(received) },
      );
      return;
    }

    const fault = takeFault(request);
    if (fault) request.fault = fault.type;
    if (fault?.type === 'error') {
      sendError(fault.status, fault.code, fault.message ?? fault.code, {}, fault.headers ?? {});
      return;
    }
    if (fault?.type === 'stall') return;
    if (fault?.type === 'disconnect') {
      req.socket.destroy();
      return;
    }

    const objectsOf = (name: string | undefined): Map<string, FakeS3Object> | undefined => {
      const objects = name === undefined ? undefined : buckets.get(name);
      if (!objects) {
        sendError(404, 'NoSuchBucket', 'The specified bucket does not exist', { BucketName: name ?? '' });
      }
      return objects;
    };

    switch (request.operation) {
      case 'ListBuckets': {
        const list = [...buckets.keys()]
          .sort()
          .map(
            (name) =>
              `<Bucket><Name>${xmlEscape(name)}</Name><CreationDate>2026-01-01T00:00:00.000Z</CreationDate></Bucket>`,
          )
          .join('');
        sendXml(
          `<ListAllMyBucketsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Owner><ID>fake</ID><DisplayName>fake</DisplayName></Owner><Buckets>${list}</Buckets></ListAllMyBucketsResult>`,
        );
        return;
      }
      case 'CreateBucket': {
        if (buckets.has(bucket as string)) {
          sendError(
            409,
            'BucketAlreadyOwnedByYou',
            'Your previous request to create the named bucket succeeded and you already own it.',
            {
              BucketName: bucket as string,
            },
          );
          return;
        }
        buckets.set(bucket as string, new Map());
        request.status = 200;
        res.writeHead(200, { ...baseHeaders, location: `/${bucket}` });
        res.end();
        return;
      }
      case 'HeadBucket': {
        if (!objectsOf(bucket)) return;
        request.status = 200;
        res.writeHead(200, { ...baseHeaders, 'x-amz-bucket-region': region });
        res.end();
        return;
      }
      case 'DeleteBucket': {
        const objects = objectsOf(bucket);
        if (!objects) return;
        if (objects.size > 0) {
          sendError(409, 'BucketNotEmpty', 'The bucket you tried to delete is not empty', {
            BucketName: bucket as string,
          });
          return;
        }
        buckets.delete(bucket as string);
        request.status = 204;
        res.writeHead(204, baseHeaders);
        res.end();
        return;
      }
      case 'ListObjectsV2': {
        const objects = objectsOf(bucket);
        if (!objects) return;
        const prefix = query.get('prefix') ?? '';
        const delimiter = query.get('delimiter') ?? '';
        const maxKeysText = query.get('max-keys');
        const requestedMaxKeys = maxKeysText === null ? 1000 : Number(maxKeysText);
        if (!Number.isInteger(requestedMaxKeys) || requestedMaxKeys < 0) {
          sendError(400, 'InvalidArgument', 'Provided max-keys not an integer or within integer range', {
            ArgumentName: 'max-keys',
            ArgumentValue: String(maxKeysText),
          });
          return;
        }
        const maxKeys = Math.min(requestedMaxKeys, options.maxKeysPerPage ?? 1000);
        const continuation = query.get('continuation-token');
        const startAfter = query.get('start-after') ?? '';
        let after = startAfter;
        if (continuation !== null) {
          after = Buffer.from(continuation, 'base64url').toString('utf8');
          if (!after.startsWith('k:')) {
            sendError(400, 'InvalidArgument', 'The continuation token provided is incorrect', {
              ArgumentName: 'continuation-token',
            });
            return;
          }
          after = after.slice(2);
        }
        const encode = query.get('encoding-type') === 'url' ? uriEncode : (value: string) => value;
        const contents: string[] = [];
        const commonPrefixes = new Set<string>();
        let count = 0;
        let lastReturned = '';
        let truncated = false;
        for (const name of [...objects.keys()].sort()) {
          if (!name.startsWith(prefix) || name <= after) continue;
          let rolledUp: string | undefined;
          if (delimiter !== '') {
            const at = name.indexOf(delimiter, prefix.length);
            if (at !== -1) rolledUp = name.slice(0, at + delimiter.length);
          }
          if (rolledUp !== undefined && commonPrefixes.has(rolledUp)) {
            lastReturned = name;
            continue;
          }
          if (count >= maxKeys) {
            truncated = true;
            break;
          }
          count += 1;
          lastReturned = name;
          if (rolledUp !== undefined) {
            commonPrefixes.add(rolledUp);
            continue;
          }
          const object = objects.get(name) as FakeS3Object;
          contents.push(
            `<Contents><Key>${xmlEscape(encode(name))}</Key><LastModified>${object.lastModified.toISOString()}</LastModified><ETag>${xmlEscape(object.etag)}</ETag><Size>${object.body.byteLength}</Size><StorageClass>STANDARD</StorageClass></Contents>`,
          );
        }
        const fields = [
          `<Name>${xmlEscape(bucket as string)}</Name>`,
          `<Prefix>${xmlEscape(encode(prefix))}</Prefix>`,
          ...(delimiter === '' ? [] : [`<Delimiter>${xmlEscape(encode(delimiter))}</Delimiter>`]),
          ...(startAfter === '' ? [] : [`<StartAfter>${xmlEscape(encode(startAfter))}</StartAfter>`]),
          ...(query.get('encoding-type') === 'url' ? ['<EncodingType>url</EncodingType>'] : []),
          `<KeyCount>${count}</KeyCount>`,
          `<MaxKeys>${maxKeys}</MaxKeys>`,
          `<IsTruncated>${truncated}</IsTruncated>`,
          ...(continuation === null
            ? []
            : [`<ContinuationToken>${xmlEscape(continuation)}</ContinuationToken>`]),
          ...(truncated
            ? [
                `<NextContinuationToken>${Buffer.from(`k:${lastReturned}`).toString('base64url')}</NextContinuationToken>`,
              ]
            : []),
          ...contents,
          ...[...commonPrefixes].map(
            (name) => `<CommonPrefixes><Prefix>${xmlEscape(encode(name))}</Prefix></CommonPrefixes>`,
          ),
        ];
        sendXml(
          `<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${fields.join('')}</ListBucketResult>`,
        );
        return;
      }
      case 'PutObject': {
        const objects = objectsOf(bucket);
        if (!objects) return;
        if (String(req.headers['content-encoding'] ?? '').includes('aws-chunked')) {
          sendError(
            501,
            'NotImplemented',
            'The fake S3 server does not decode aws-chunked (streaming) uploads; send a buffered body',
          );
          return;
        }
        const body = fault?.type === 'corrupt' ? flipOneByte(received) : new Uint8Array(received);
        const contentMd5 = req.headers['content-md5'];
        if (typeof contentMd5 === 'string') {
          if (Buffer.from(contentMd5, 'base64').length !== 16) {
            sendError(400, 'InvalidDigest', 'The Content-MD5 you specified was invalid.', {
              'Content-MD5': contentMd5,
            });
            return;
          }
          if (createHash('md5').update(body).digest('base64') !== contentMd5) {
            sendError(400, 'BadDigest', 'The Content-MD5 you specified did not match what we received.', {
              ExpectedDigest: contentMd5,
            });
            return;
          }
        }
        const checksums: Record<string, string> = {};
        for (const [header, algorithm] of Object.entries(CHECKSUM_HEADERS)) {
          const value = req.headers[header];
          if (typeof value !== 'string') continue;
          const actual = computeChecksum(algorithm, body);
          if (actual !== undefined && actual !== value) {
            sendError(
              400,
              'BadDigest',
              `The ${algorithm.toUpperCase()} you specified did not match the calculated checksum.`,
            );
            return;
          }
          checksums[algorithm] = value;
        }
        const metadata: Record<string, string> = {};
        for (const [name, value] of Object.entries(req.headers)) {
          if (name.startsWith('x-amz-meta-') && typeof value === 'string') metadata[name.slice(11)] = value;
        }
        const etag = `"${createHash('md5').update(body).digest('hex')}"`;
        objects.set(key as string, {
          body,
          contentType: String(req.headers['content-type'] ?? 'binary/octet-stream'),
          metadata,
          checksums,
          etag,
          lastModified: new Date(),
        });
        request.status = 200;
        res.writeHead(200, {
          ...baseHeaders,
          etag,
          ...Object.fromEntries(
            Object.entries(checksums).map(([algorithm, value]) => [`x-amz-checksum-${algorithm}`, value]),
          ),
        });
        res.end();
        return;
      }
      case 'GetObject':
      case 'HeadObject': {
        const objects = objectsOf(bucket);
        if (!objects) return;
        const object = objects.get(key as string);
        if (!object) {
          sendError(404, 'NoSuchKey', 'The specified key does not exist.', { Key: key as string });
          return;
        }
        const checksumHeaders =
          String(req.headers['x-amz-checksum-mode'] ?? '').toUpperCase() === 'ENABLED'
            ? Object.fromEntries(
                Object.entries(object.checksums).map(([algorithm, value]) => [
                  `x-amz-checksum-${algorithm}`,
                  value,
                ]),
              )
            : {};
        const body = fault?.type === 'corrupt' ? flipOneByte(object.body) : object.body;
        request.status = 200;
        res.writeHead(200, {
          ...baseHeaders,
          'content-type': object.contentType,
          'content-length': String(body.byteLength),
          etag: object.etag,
          'last-modified': object.lastModified.toUTCString(),
          'accept-ranges': 'bytes',
          ...Object.fromEntries(
            Object.entries(object.metadata).map(([name, value]) => [`x-amz-meta-${name}`, value]),
          ),
          ...checksumHeaders,
        });
        res.end(request.operation === 'GetObject' ? body : undefined);
        return;
      }
      case 'DeleteObject': {
        const objects = objectsOf(bucket);
        if (!objects) return;
        objects.delete(key as string);
        request.status = 204;
        res.writeHead(204, baseHeaders);
        res.end();
        return;
      }
      case 'Unsupported':
        sendError(501, 'NotImplemented', `The fake S3 server does not implement ${method} ${rawUrl}`);
        return;
      default: {
        const unhandled: never = request.operation;
        throw new Error(`Unhandled operation: ${String(unhandled)}`);
      }
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/xml' });
      res.end(
        `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InternalError</Code><Message>${xmlEscape(`Fake server failure: ${String(error)}`)}</Message></Error>`,
      );
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    region,
    requests,
    inject(rule) {
      rules.push({ ...rule, remaining: rule.times ?? 1 });
    },
    createBucket(name) {
      if (!buckets.has(name)) buckets.set(name, new Map());
    },
    getObject(bucketName, key) {
      return buckets.get(bucketName)?.get(key);
    },
    setObjectBody(bucketName, key, body) {
      const object = buckets.get(bucketName)?.get(key);
      if (!object) throw new Error(`No object ${bucketName}/${key} in the fake S3 server`);
      object.body = typeof body === 'string' ? new TextEncoder().encode(body) : new Uint8Array(body);
    },
    listKeys(bucketName) {
      return [...(buckets.get(bucketName)?.keys() ?? [])].sort();
    },
    reset() {
      requestCounter = 0;
      requests.length = 0;
      rules.length = 0;
    },
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
