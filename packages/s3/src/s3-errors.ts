import { AsmError, type ErrorCode } from '@asm/core';

/** The S3 operations the store performs. */
export type S3Operation = 'PutObject' | 'GetObject' | 'HeadObject' | 'DeleteObject' | 'ListObjectsV2';

/**
 * Why an S3 call failed, in `details.reason` of the `AsmError`:
 * - `throttled`: S3 asked to slow down (`SlowDown`, `503`, `429`); retryable;
 * - `server_error`: a 5xx from S3 (`InternalError`, `ServiceUnavailable`); retryable;
 * - `network`: no HTTP answer (connection refused or reset, DNS); retryable;
 * - `timeout`: the store's `timeoutMs` passed, or S3 timed the request out; retryable;
 * - `access_denied`: `403`, bad credentials or signature, missing permission;
 * - `no_such_bucket`: the bucket does not exist;
 * - `checksum_mismatch`: the bytes did not hash to the checksum sent or stored with them;
 * - `other`: anything else (`details.s3Code` has S3's code).
 */
export type S3FailureReason =
  | 'throttled'
  | 'server_error'
  | 'network'
  | 'timeout'
  | 'access_denied'
  | 'no_such_bucket'
  | 'checksum_mismatch'
  | 'other';

/** What the store knows about the call that failed. */
export interface S3ErrorContext {
  operation: S3Operation;
  bucket: string;
  /** The artifact key (without the store's prefix); absent for listings. */
  key?: string;
  /** The object key in the bucket (prefix + key), or the listed prefix. */
  objectKey: string;
  /** True when the store's own timeout aborted the call. */
  timedOut?: boolean;
}

/** The fields of an SDK v3 service exception (or a Node network error) that the mapping reads. */
interface SdkErrorShape {
  name?: string;
  message?: string;
  code?: string;
  Code?: string;
  $fault?: 'client' | 'server';
  $metadata?: { httpStatusCode?: number; requestId?: string; attempts?: number };
}

const THROTTLING_CODES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottled',
  'RequestThrottledException',
  'RequestLimitExceeded',
  'TooManyRequests',
  'TooManyRequestsException',
  'BandwidthLimitExceeded',
]);
const SERVER_CODES = new Set(['InternalError', 'ServiceUnavailable', 'InternalServerError']);
const ACCESS_CODES = new Set([
  'AccessDenied',
  'AllAccessDisabled',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'InvalidToken',
  'TokenRefreshRequired',
  'AccountProblem',
  'InvalidObjectState',
  'CredentialsProviderError',
]);
const CHECKSUM_CODES = new Set(['BadDigest', 'InvalidDigest', 'XAmzContentSHA256Mismatch']);
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
]);

const shapeOf = (error: unknown): SdkErrorShape =>
  typeof error === 'object' && error !== null ? (error as SdkErrorShape) : { message: String(error) };

/** S3's error code of a failure (`NoSuchKey`, `SlowDown`…), or the error's name. */
export function s3ErrorCode(error: unknown): string | undefined {
  const shape = shapeOf(error);
  return shape.Code ?? shape.name;
}

/** True for "this object does not exist" (`NoSuchKey`, or a bodyless 404 from `HeadObject`). */
export function isS3NotFound(error: unknown): boolean {
  const code = s3ErrorCode(error);
  if (code === 'NoSuchKey' || code === 'NotFound') return true;
  return shapeOf(error).$metadata?.httpStatusCode === 404 && code !== 'NoSuchBucket';
}

/** True for the SDK's own response-checksum failure (it throws a plain `Error`). */
function isSdkChecksumMismatch(shape: SdkErrorShape): boolean {
  return /checksum mismatch/i.test(shape.message ?? '');
}

function reasonOf(shape: SdkErrorShape, context: S3ErrorContext): S3FailureReason {
  const code = shape.Code ?? shape.name ?? '';
  const status = shape.$metadata?.httpStatusCode;
  if (context.timedOut) return 'timeout';
  // The SDK names a reset socket `TimeoutError` (code ECONNRESET): the errno decides.
  if (status === undefined && NETWORK_CODES.has(shape.code ?? '')) return 'network';
  if (CHECKSUM_CODES.has(code) || isSdkChecksumMismatch(shape)) return 'checksum_mismatch';
  if (THROTTLING_CODES.has(code) || status === 429 || status === 503) return 'throttled';
  if (code === 'RequestTimeout' || code === 'TimeoutError' || status === 408) return 'timeout';
  if (SERVER_CODES.has(code) || (status !== undefined && status >= 500)) return 'server_error';
  if (ACCESS_CODES.has(code) || status === 403 || status === 401) return 'access_denied';
  if (code === 'NoSuchBucket') return 'no_such_bucket';
  if (status === undefined && /socket hang up|ECONNREFUSED|ECONNRESET/i.test(shape.message ?? ''))
    return 'network';
  return 'other';
}

const RETRYABLE_REASONS: ReadonlySet<S3FailureReason> = new Set([
  'throttled',
  'server_error',
  'network',
  'timeout',
]);

/** The store's code for a non-transient failure of an operation. */
export function failureCodeOf(operation: S3Operation): ErrorCode {
  return operation === 'PutObject' || operation === 'DeleteObject'
    ? 'storage_write_failed'
    : 'storage_read_failed';
}

/**
 * Translates an S3 SDK failure into the error taxonomy. Transient failures (throttling, 5xx,
 * network, timeouts) become `storage_connection_failed`, the retryable storage code (or `timeout`
 * for the store's own timeout); everything else becomes `storage_write_failed` (put, delete) or
 * `storage_read_failed` (get, head, list), not retryable. `details` carries `operation`, `bucket`,
 * `key`, `objectKey`, `reason` (`S3FailureReason`), and S3's `s3Code`, `httpStatus`, `requestId`
 * and `attempts` when there was an HTTP answer. An `AsmError` passes through unchanged.
 *
 * Codes: https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html
 */
export function mapS3Error(error: unknown, context: S3ErrorContext): AsmError {
  if (AsmError.isInstance(error)) return error;
  const shape = shapeOf(error);
  const reason = reasonOf(shape, context);
  const s3Code = shape.Code ?? (shape.$metadata ? shape.name : undefined);
  const details: Record<string, unknown> = {
    operation: context.operation,
    bucket: context.bucket,
    ...(context.key === undefined ? {} : { key: context.key }),
    objectKey: context.objectKey,
    reason,
    ...(s3Code === undefined ? {} : { s3Code }),
    ...(shape.$metadata?.httpStatusCode === undefined ? {} : { httpStatus: shape.$metadata.httpStatusCode }),
    ...(shape.$metadata?.requestId === undefined ? {} : { requestId: shape.$metadata.requestId }),
    ...(shape.$metadata?.attempts === undefined ? {} : { attempts: shape.$metadata.attempts }),
  };
  const target = `s3://${context.bucket}/${context.objectKey}`;
  const original = shape.message ?? s3Code ?? 'unknown error';
  let code: ErrorCode;
  let message: string;
  switch (reason) {
    case 'timeout':
      code = context.timedOut ? 'timeout' : 'storage_connection_failed';
      message = `S3 ${context.operation} of ${target} timed out${context.timedOut ? '' : `: ${original}`}`;
      break;
    case 'throttled':
    case 'server_error':
    case 'network':
      code = 'storage_connection_failed';
      message = `S3 ${context.operation} of ${target} failed${reason === 'throttled' ? ' (throttled)' : ''}: ${s3Code ? `${s3Code}: ` : ''}${original}`;
      break;
    case 'access_denied':
      code = failureCodeOf(context.operation);
      message = `S3 denied ${context.operation} of ${target}: ${s3Code ? `${s3Code}: ` : ''}${original}. Check the credentials and that they allow s3:${context.operation === 'ListObjectsV2' ? 'ListBucket' : context.operation}`;
      break;
    case 'no_such_bucket':
      code = failureCodeOf(context.operation);
      message = `S3 ${context.operation} of ${target} failed: the bucket ${context.bucket} does not exist`;
      break;
    case 'checksum_mismatch':
      code = failureCodeOf(context.operation);
      message =
        context.operation === 'PutObject'
          ? `Checksum mismatch on S3 PutObject of ${target}: S3 received bytes that do not match the checksum sent with them (${s3Code ?? 'checksum error'}: ${original})`
          : `Checksum mismatch on S3 ${context.operation} of ${target}: the bytes received do not match the checksum stored with the object (${original})`;
      break;
    case 'other':
      code = failureCodeOf(context.operation);
      message = `S3 ${context.operation} of ${target} failed: ${s3Code ? `${s3Code}: ` : ''}${original}`;
      break;
    default: {
      const unhandled: never = reason;
      throw new Error(`Unhandled S3 failure reason: ${String(unhandled)}`);
    }
  }
  return new AsmError(code, message, {
    details,
    cause: error,
    retryable: RETRYABLE_REASONS.has(reason),
  });
}
