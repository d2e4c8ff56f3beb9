import { AsmError } from './errors.js';
import type { EventType } from './event.js';

/** A secret pattern: a category name (used by the `categorized` replacement) and a regular expression. */
export interface RedactionPattern {
  category: string;
  pattern: RegExp;
  /**
   * The length of the shortest text the pattern can match, when known. Strings shorter than the
   * `minLength` of every pattern in use are not scanned at all (short streamed deltas are the common
   * case). Leave it out when unsure: a pattern without it makes every string be scanned.
   */
  minLength?: number;
}

/** How secrets are redacted before events are persisted or published. */
export interface RedactionOptions {
  /** Default true: redaction is on unless the app turns it off. */
  enabled?: boolean;
  /** Patterns added after the defaults. */
  patterns?: RedactionPattern[];
  /** Use these patterns instead of the defaults. */
  replacePatterns?: RedactionPattern[];
  /** `'[REDACTED]'` (default) or any text; `'categorized'` writes `[REDACTED:<category>]`. */
  replacement?: string;
  /** Scan every string nested in event data (default true); false scans only the fields that carry text. */
  deepScan?: boolean;
  /** Also scan event metadata. Default false. */
  scanMetadata?: boolean;
  /** How deep nested data is scanned. Default 10. */
  maxDepth?: number;
  /**
   * Hand `onEvent` listeners the unredacted data (the store and the bus still get the redacted
   * event). Default false: listeners see exactly what was stored.
   */
  unredactedOnEvent?: boolean;
}

/** Result of redacting one value. */
export interface RedactionResult<T> {
  value: T;
  /** How many secrets were replaced. */
  count: number;
}

/**
 * The 22 default patterns: provider API keys (Anthropic, OpenAI, Google, AWS, GitHub, GitLab),
 * bearer tokens, JWTs, private keys, connection strings with credentials, and `key = value`
 * assignments of passwords, secrets and tokens. Applied in this order. The shortest of them
 * (`pwd=x`) is 5 characters long, so shorter strings are not scanned.
 */
export const DEFAULT_REDACTION_PATTERNS: readonly RedactionPattern[] = Object.freeze([
  { category: 'aws_access_key', pattern: /AKIA[0-9A-Z]{16}/g, minLength: 20 },
  { category: 'aws_secret_key', pattern: /aws[_-]?secret[_-]?access[_-]?key\s*[:=]\s*\S+/gi, minLength: 20 },
  { category: 'gcp_api_key', pattern: /AIza[0-9A-Za-z_-]{35}/g, minLength: 39 },
  { category: 'anthropic_key', pattern: /sk-ant-[A-Za-z0-9_-]{20,}/g, minLength: 27 },
  { category: 'openai_key', pattern: /sk-proj-[A-Za-z0-9_-]{20,}/g, minLength: 28 },
  { category: 'openai_legacy_key', pattern: /sk-[A-Za-z0-9]{40,}/g, minLength: 43 },
  { category: 'github_pat', pattern: /ghp_[A-Za-z0-9]{36}/g, minLength: 40 },
  { category: 'github_oauth', pattern: /gho_[A-Za-z0-9]{36}/g, minLength: 40 },
  { category: 'github_app', pattern: /ghs_[A-Za-z0-9]{36}/g, minLength: 40 },
  { category: 'github_refresh', pattern: /ghr_[A-Za-z0-9]{36}/g, minLength: 40 },
  { category: 'github_fine_pat', pattern: /github_pat_[A-Za-z0-9_]{22,}/g, minLength: 33 },
  { category: 'gitlab_token', pattern: /glpat-[A-Za-z0-9_-]{20,}/g, minLength: 26 },
  {
    category: 'jwt_token',
    pattern: /eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/g,
    minLength: 35,
  },
  { category: 'bearer_token', pattern: /bearer\s+[A-Za-z0-9._~+/=-]{20,}/gi, minLength: 27 },
  { category: 'password', pattern: /(?:password|passwd|pwd)\s*[:=]\s*\S+/gi, minLength: 5 },
  { category: 'api_key_generic', pattern: /(?:api[_-]?key|apikey)\s*[:=]\s*\S+/gi, minLength: 8 },
  { category: 'secret_key', pattern: /(?:secret[_-]?key|secretkey)\s*[:=]\s*\S+/gi, minLength: 11 },
  { category: 'access_token', pattern: /(?:access[_-]?token|accesstoken)\s*[:=]\s*\S+/gi, minLength: 13 },
  { category: 'auth_token', pattern: /(?:auth[_-]?token|authtoken)\s*[:=]\s*\S+/gi, minLength: 11 },
  {
    category: 'connection_string',
    pattern: /(?:postgres|postgresql|mysql|redis|mongodb|amqp|mssql):\/\/\S+/gi,
    minLength: 8,
  },
  {
    category: 'private_key',
    pattern:
      /-----BEGIN (?:RSA |EC |DSA |OPENSSH )?PRIVATE KEY-----[\s\S]*?(?:-----END (?:RSA |EC |DSA |OPENSSH )?PRIVATE KEY-----|$)/g,
    minLength: 27,
  },
  {
    category: 'env_secret',
    pattern: /(?:DATABASE_URL|REDIS_URL|SECRET_KEY_BASE|ENCRYPTION_KEY|PRIVATE_KEY)\s*=\s*\S+/gi,
    minLength: 11,
  },
]);

/** Event types whose data is never scanned: they carry ids, counts and statuses, not free text. */
export const UNSCANNED_EVENT_TYPES: ReadonlySet<EventType> = new Set<EventType>([
  'session_created',
  'session_started',
  'session_paused',
  'session_resumed',
  'session_completed',
  'session_cancelled',
  'run_started',
  'run_cancelled',
  'run_timeout',
  'token_usage_updated',
  'turn_completed',
  'workspace_snapshot_taken',
  'workspace_diff_computed',
  'error_recovered',
]);

/** The fields scanned per type when `deepScan` is off. */
const TARGETED_FIELDS: Partial<Record<EventType, readonly string[]>> = {
  message_sent: ['content'],
  message_received: ['content'],
  message_streamed: ['delta', 'content'],
  tool_call_started: ['toolInput'],
  tool_call_completed: ['toolInput', 'toolOutput'],
  tool_call_failed: ['toolInput', 'toolOutput', 'errorMessage'],
  error_occurred: ['errorMessage', 'providerError'],
  run_failed: ['errorMessage', 'providerError'],
  session_failed: ['errorMessage', 'providerError'],
  policy_violation: ['details'],
  tool_approval_requested: ['toolInput'],
};

/** Redacts secrets in strings and nested data. */
export interface Redactor {
  readonly enabled: boolean;
  readonly unredactedOnEvent: boolean;
  /** Redacts one string. */
  redactString(text: string): RedactionResult<string>;
  /** Redacts every string in a value, to `maxDepth`; containers are copied only where something changed. */
  redactValue<T>(value: T): RedactionResult<T>;
  /**
   * Redacts an event's data according to its type; returns the same object, not copied, when
   * nothing matched (so `result !== data` tells that something was replaced).
   */
  redactEventData(type: EventType, data: Record<string, unknown>): Record<string, unknown>;
  /** Redacts event metadata when `scanMetadata` is on; the same object when nothing was replaced. */
  redactEventMetadata(metadata: Record<string, unknown>): Record<string, unknown>;
  /** Redacts an event's data (and metadata when configured) according to its type. */
  redactEventParts(
    type: EventType,
    data: Record<string, unknown>,
    metadata: Record<string, unknown>,
  ): { data: Record<string, unknown>; metadata: Record<string, unknown>; count: number };
}

/** Combined screens by source: a manager per request must not recompile the same large pattern. */
const screens = new Map<string, RegExp>();
const MAX_CACHED_SCREENS = 32;

/**
 * One case-insensitive expression matching wherever any of the sources may match (a superset: it
 * only decides whether the exact patterns run). It has no `g` flag, so `test` keeps no state and one
 * instance serves every redactor built from the same patterns.
 */
function screenFor(sources: string[]): RegExp {
  const source = sources.map((text) => `(?:${text})`).join('|');
  let screen = screens.get(source);
  if (screen === undefined) {
    if (screens.size >= MAX_CACHED_SCREENS) screens.clear();
    screen = new RegExp(source, 'i');
    screens.set(source, screen);
  }
  return screen;
}

/**
 * Builds a redactor. Every string first goes through one combined pattern test, so text without
 * anything secret-looking costs a single regular-expression scan.
 *
 * Limits: a secret split across two streamed deltas is not recognized in either delta (the full
 * `message_received` text is); redaction cannot know secrets that match no pattern.
 */
export function createRedactor(options: RedactionOptions = {}): Redactor {
  const patterns = [...(options.replacePatterns ?? DEFAULT_REDACTION_PATTERNS), ...(options.patterns ?? [])];
  for (const [index, entry] of patterns.entries()) {
    if (!(entry?.pattern instanceof RegExp) || typeof entry.category !== 'string') {
      throw new AsmError('validation_error', `redaction pattern ${index} needs a category and a RegExp`, {
        details: { field: `patterns[${index}]` },
      });
    }
  }
  const global = patterns.map((entry) => ({
    category: entry.category,
    pattern: entry.pattern.global
      ? entry.pattern
      : new RegExp(entry.pattern.source, `${entry.pattern.flags}g`),
  }));
  const screen = global.length === 0 ? undefined : screenFor(global.map((entry) => entry.pattern.source));
  /** No pattern can match a string shorter than this. */
  const minLength = patterns.reduce(
    (shortest, entry) =>
      Math.min(
        shortest,
        typeof entry.minLength === 'number' && entry.minLength > 0 ? Math.floor(entry.minLength) : 0,
      ),
    Number.POSITIVE_INFINITY,
  );
  /** True when `text` may hold a secret: long enough for some pattern, and the combined screen matches. */
  const suspicious = (text: string): boolean =>
    screen !== undefined && text.length >= minLength && screen.test(text);
  const replacement = options.replacement ?? '[REDACTED]';
  const replacementFor = (category: string) =>
    replacement === 'categorized' ? `[REDACTED:${category}]` : replacement;
  const maxDepth = options.maxDepth ?? 10;
  const enabled = options.enabled ?? true;
  const deepScan = options.deepScan ?? true;

  /** Matches replaced by the current `walk` (walks are synchronous, so one counter suffices). */
  let matches = 0;

  const replaceSecrets = (text: string): string => {
    let result = text;
    for (const entry of global) {
      entry.pattern.lastIndex = 0;
      result = result.replace(entry.pattern, () => {
        matches++;
        return replacementFor(entry.category);
      });
    }
    return result;
  };

  const redactString = (text: string): RedactionResult<string> => {
    if (!enabled || !suspicious(text)) return { value: text, count: 0 };
    matches = 0;
    const value = replaceSecrets(text);
    return { value, count: matches };
  };

  /** The value with secrets replaced; the same value (no copy, no allocation) when nothing matched. */
  const walk = (value: unknown, depth: number): unknown => {
    if (typeof value === 'string') {
      return suspicious(value) ? replaceSecrets(value) : value;
    }
    if (depth >= maxDepth || typeof value !== 'object' || value === null) return value;
    if (Array.isArray(value)) {
      let copy: unknown[] | undefined;
      for (let index = 0; index < value.length; index++) {
        const item = value[index];
        const next = walk(item, depth + 1);
        if (next !== item) {
          copy ??= [...value];
          copy[index] = next;
        }
      }
      return copy ?? value;
    }
    let copy: Record<string, unknown> | undefined;
    const record = value as Record<string, unknown>;
    for (const key in record) {
      const item = record[key];
      const next = walk(item, depth + 1);
      if (next !== item) {
        copy ??= { ...record };
        copy[key] = next;
      }
    }
    return copy ?? value;
  };

  const redactValue = <T>(value: T): RedactionResult<T> => {
    if (!enabled) return { value, count: 0 };
    matches = 0;
    const redacted = walk(value, 0) as T;
    return { value: redacted, count: matches };
  };

  /** `data` with secrets replaced (counted in `matches`); the same object when nothing matched. */
  const redactData = (type: EventType, data: Record<string, unknown>): Record<string, unknown> => {
    if (!enabled || UNSCANNED_EVENT_TYPES.has(type)) return data;
    if (deepScan) return walk(data, 0) as Record<string, unknown>;
    let nextData = data;
    for (const field of TARGETED_FIELDS[type] ?? []) {
      if (!(field in data)) continue;
      const next = walk(data[field], 1);
      if (next !== data[field]) {
        if (nextData === data) nextData = { ...data };
        nextData[field] = next;
      }
    }
    return nextData;
  };
  const scanMetadata = enabled && options.scanMetadata === true;

  return {
    enabled,
    unredactedOnEvent: options.unredactedOnEvent === true,
    redactString,
    redactValue,
    redactEventData: redactData,
    redactEventMetadata(metadata) {
      return scanMetadata ? (walk(metadata, 0) as Record<string, unknown>) : metadata;
    },
    redactEventParts(type, data, metadata) {
      if (!enabled || UNSCANNED_EVENT_TYPES.has(type)) return { data, metadata, count: 0 };
      matches = 0;
      const nextData = redactData(type, data);
      const nextMetadata = scanMetadata ? (walk(metadata, 0) as Record<string, unknown>) : metadata;
      return { data: nextData, metadata: nextMetadata, count: matches };
    },
  };
}
