// Errors

export type {
  ArtifactRegistryBinding,
  CheckedArtifactListFilter,
  MaintenanceArtifacts,
  RegisteredArtifactStore,
  RegisteredPutOptions,
} from './artifact-registry.js';
// Artifact registry
export {
  artifactListCursor,
  artifactPageOf,
  blobExists,
  checkArtifactListFilter,
  checkArtifactRegistration,
  createInMemoryArtifactRegistry,
  sha256Hex,
  sweepOrphanedArtifacts,
  withArtifactRegistry,
} from './artifact-registry.js';
export type {
  Capability,
  CapabilityRequirements,
  CapabilityResolver,
  CapabilityType,
  Manifest,
  NegotiationResult,
  NewCapabilityAttributes,
  NewManifestAttributes,
  Registry,
} from './capabilities.js';
// Capabilities
export {
  addCapability,
  CAPABILITY_TYPES,
  capabilitiesOfType,
  createCapability,
  createCapabilityResolver,
  createManifest,
  createRegistry,
  disableCapability,
  enableCapability,
  enabledCapabilities,
  getCapability,
  hasCapabilityType,
  isCapabilityEnabled,
  isCapabilityType,
  negotiateCapabilities,
  removeCapability,
  validateManifest,
} from './capabilities.js';
export type { ProcessResult, RunProcessOptions } from './child-process.js';
export { runProcess } from './child-process.js';
export type {
  CompositeArtifactOperation,
  CompositeArtifactRoute,
  CompositeArtifactStoreOptions,
} from './composite-artifact-store.js';
export { createCompositeArtifactStore } from './composite-artifact-store.js';
export type { AsmConfig, ConfigKey } from './config.js';
// Configuration
export { configure, DEFAULT_CONFIG, getConfig, resetConfig, resolveConfig, withConfig } from './config.js';
export type { PricingRates, PricingTable, ProviderPricing } from './cost.js';
// Cost
export {
  calculateCost,
  DEFAULT_PRICING_TABLE,
  mergePricingTables,
  PRICING_TABLE_DATE,
  resolveRates,
  validatePricingTable,
} from './cost.js';
export type {
  AsmErrorJson,
  AsmErrorOptions,
  ErrorAction,
  ErrorCategory,
  ErrorCode,
  ProviderErrorInfo,
  ProviderErrorInput,
  ProviderErrorKind,
  TruncatedText,
} from './errors.js';
export {
  AsmError,
  classifyError,
  defaultErrorMessage,
  ERROR_CODES,
  ERROR_CODES_BY_CATEGORY,
  errorCategory,
  errorCodeForHttpStatus,
  isErrorCode,
  isRetryable,
  normalizeProviderError,
  RETRYABLE_ERROR_CODES,
  truncateText,
} from './errors.js';
export type {
  ErrorEventData,
  EventData,
  EventDataMap,
  EventEnvelope,
  EventGroup,
  EventType,
  NewEvent,
  NewEventAttributes,
  NewEventOf,
  StoredEvent,
  StoredEventOf,
  StreamKind,
  TerminalRunEventType,
  ToolEventData,
} from './event.js';
export {
  createEvent,
  EVENT_SCHEMA_VERSION,
  EVENT_TYPES,
  EVENT_TYPES_BY_GROUP,
  eventFromJSON,
  isEventType,
  isTerminalRunEventType,
  TERMINAL_RUN_EVENT_TYPES,
  toStoredEvent,
  validateNewEvent,
} from './event.js';
export { EventWriter } from './event-writer.js';
export type {
  BeforeFinishResult,
  ExtensionToolDecision,
  RunExtension,
  RunExtensionContext,
  RunOutcome,
} from './extensions.js';
export type { FollowEventsOptions } from './follow-events.js';
export { followSessionEvents, sleep } from './follow-events.js';
export type { IdPrefix } from './ids.js';
// Ids and time
export { generateId, isIsoTimestamp, newEventId, newRunId, newSessionId, nowIso } from './ids.js';
export { createInMemoryArtifactStore, validateArtifactKey } from './in-memory-artifact-store.js';
export type { ConcurrencyLimiterOptions } from './in-memory-concurrency-limiter.js';
export { createConcurrencyLimiter } from './in-memory-concurrency-limiter.js';
export { createInMemoryControlBus } from './in-memory-control-bus.js';
export type { InMemoryEventBus } from './in-memory-event-bus.js';
export { createInMemoryEventBus } from './in-memory-event-bus.js';
export { createInMemoryMaintenance } from './in-memory-maintenance.js';
// Router state
export type { InMemoryRouterStateOptions } from './in-memory-router-state.js';
export { createInMemoryRouterState } from './in-memory-router-state.js';
export type { InMemorySessionLeaseOptions } from './in-memory-session-lease.js';
export { createInMemorySessionLease } from './in-memory-session-lease.js';
export type { InMemorySessionStore, InMemoryStoreOptions } from './in-memory-store.js';
// In-memory store
export { createInMemoryStore } from './in-memory-store.js';
export type { OpenTelemetryOptions, OtelSpanLike, OtelTracerLike } from './opentelemetry.js';
export { instrumentOpenTelemetry } from './opentelemetry.js';
export { createOptionalDependency, type OptionalDependencyOptions } from './optional-dependency.js';
export type {
  ArtifactListFilter,
  ArtifactRecord,
  ArtifactRegistration,
  ArtifactRegistry,
  ArtifactStats,
} from './ports/artifact-registry.js';
export type { ArtifactStore } from './ports/artifact-store.js';
export type { ConcurrencyLimiter, ConcurrencyStatus } from './ports/concurrency-limiter.js';
export type { ControlBus, ControlMessage } from './ports/control-bus.js';
export { validateControlMessage } from './ports/control-bus.js';
export type { EventBus, EventBusFilter, EventSubscription } from './ports/event-bus.js';
export type {
  AdapterEvent,
  ContinuationMode,
  ExecuteContinuation,
  ExecuteOptions,
  ExecuteResult,
  ProviderAdapter,
} from './ports/provider-adapter.js';
export {
  abortError,
  assertProviderAdapter,
  isAbortCode,
  throwIfAborted,
} from './ports/provider-adapter.js';
export type {
  CircuitBreakerSnapshot,
  CircuitState,
  ProviderHealthState,
  RouterStateStore,
  StickyBinding,
} from './ports/router-state.js';
export type { LeaseGrant, SessionLease } from './ports/session-lease.js';
export { MAX_LEASE_TTL_MS, validateLeaseRequest } from './ports/session-lease.js';
export type {
  CostSummary,
  EventOrder,
  EventSearch,
  Page,
  RunOrder,
  RunSearch,
  SessionExport,
  SessionOrder,
  SessionQuery,
  SessionSearch,
  SessionStats,
  SummaryFilter,
  UsageSummary,
} from './ports/session-query.js';
export { supportsSessionQuery } from './ports/session-query.js';
export type { EventQuery, RunFilter, SessionFilter, SessionStore } from './ports/session-store.js';
// Ports
export { assertSessionStore } from './ports/session-store.js';
export type { CheckedEventQuery, CursorKey, CursorResource } from './query.js';
export {
  checkEventQuery,
  checkQueryLimit,
  checkQueryOrder,
  checkStringList,
  costSummaryOf,
  countEventsIn,
  decodeQueryCursor,
  decodeQueryCursorKey,
  EVENT_ORDERS,
  encodeQueryCursor,
  RUN_ORDERS,
  runsForSummary,
  SESSION_ORDERS,
  searchEventsIn,
  searchRunsIn,
  searchSessionsIn,
  sessionStatsOf,
  toStringList,
  usageSummaryOf,
} from './query.js';
export type { RedactionOptions, RedactionPattern, RedactionResult, Redactor } from './redaction.js';
export { createRedactor, DEFAULT_REDACTION_PATTERNS, UNSCANNED_EVENT_TYPES } from './redaction.js';
export type {
  MaintenanceReport,
  MaintenanceSteps,
  ResolvedRetentionPolicy,
  RetentionPolicy,
  StoreMaintenance,
  StoreMaintenanceOptions,
} from './retention.js';
export { resolveRetentionPolicy, runMaintenanceSteps } from './retention.js';
export type { InputMessage, NewRunAttributes, Run, RunError, RunInput, RunOutput, RunStatus } from './run.js';
export {
  canTransitionRun,
  createRun,
  isRunStatus,
  isTerminalRunStatus,
  RUN_STATUSES,
  runFromJSON,
  transitionRun,
} from './run.js';
export type {
  NewSessionAttributes,
  ProviderSessionRecord,
  Session,
  SessionContext,
  SessionStatus,
} from './session.js';
// Domain
export {
  canTransitionSession,
  createSession,
  isSessionStatus,
  isTerminalSessionStatus,
  SESSION_STATUSES,
  sessionFromJSON,
  transitionSession,
} from './session.js';
export type {
  ApproveToolCallOptions,
  ContinuationOption,
  DenyToolCallOptions,
  ExecuteRunOptions,
  RunOnceOptions,
  RunResult,
  SessionManagerOptions,
  StartRunOptions,
  StartSessionOptions,
} from './session-manager.js';
// Session manager
export {
  createSessionManager,
  inputMessages,
  SessionManager,
} from './session-manager.js';
export type { SqlMigration } from './sql-migrations.js';
export { readSqlMigrations } from './sql-migrations.js';
export type {
  EventsStoredMessage,
  RunEndMessage,
  RunStartMessage,
  SessionLifecycleMessage,
  StoreCallMessage,
} from './telemetry.js';
export { ASM_CHANNELS } from './telemetry.js';
export type { TokenUsage } from './token-usage.js';
export { addTokenUsage, emptyTokenUsage, normalizeTokenUsage } from './token-usage.js';
// Tool loop
export type {
  RunToolLoopOptions,
  ToolLoopResult,
  ToolLoopTurn,
  ToolLoopTurnContext,
  ToolResult,
} from './tool-loop.js';
export { DEFAULT_MAX_TURNS, MAX_TURNS_STOP_REASON, runToolLoop } from './tool-loop.js';
export type { PermissionMode, Tool, ToolCall, ToolDecision, ToolRules } from './tools.js';
export {
  isPermissionMode,
  isToolAllowed,
  matchesToolPattern,
  normalizePermissionMode,
  PERMISSION_MODES,
} from './tools.js';
export type { Transcript, TranscriptMessage, TranscriptOptions, TranscriptRole } from './transcript.js';
// Transcript
export {
  APPROVAL_PENDING_TOOL_OUTPUT,
  buildTranscript,
  renderTranscriptAsText,
  transcriptMessageChars,
  updateTranscript,
} from './transcript.js';
