export type { TestArtifactRegistryOptions } from './artifact-registry-suite.js';
export { testArtifactRegistry } from './artifact-registry-suite.js';
export type { TestArtifactStoreOptions } from './artifact-store-suite.js';
export { testArtifactStore } from './artifact-store-suite.js';
export type { TestConcurrencyLimiterOptions } from './concurrency-limiter-suite.js';
export { testConcurrencyLimiter } from './concurrency-limiter-suite.js';
export type { TestControlBusOptions } from './control-bus-suite.js';
export { testControlBus } from './control-bus-suite.js';
export type { TestEventBusOptions } from './event-bus-suite.js';
export { testEventBus } from './event-bus-suite.js';
export * from './fakes/index.js';
export type {
  ProviderCancelScenario,
  ProviderErrorScenario,
  ProviderScenario,
  TestProviderAdapterOptions,
} from './provider-suite.js';
export { testProviderAdapter } from './provider-suite.js';
export type {
  QueryPlanCase,
  QueryPlanExpectation,
  QueryPlanStore,
} from './query-plan-cases.js';
export { queryPlanCases, queryPlanCasesWith, queryPlanDataset } from './query-plan-cases.js';
export type { TestRedactionOptions } from './redaction-suite.js';
export { testRedaction } from './redaction-suite.js';
export type { TestRouterStateStoreOptions } from './router-state-suite.js';
export { testRouterStateStore } from './router-state-suite.js';
export type { TestSessionLeaseOptions } from './session-lease-suite.js';
export { testSessionLease } from './session-lease-suite.js';
export type { TestSessionQueryOptions } from './session-query-suite.js';
export { testSessionQuery } from './session-query-suite.js';
export type {
  MaintainedStore,
  StoreMaintenanceContext,
  TestStoreMaintenanceOptions,
} from './store-maintenance-suite.js';
export { testStoreMaintenance } from './store-maintenance-suite.js';
export type { TestSessionStoreOptions } from './store-suite.js';
export { testSessionStore } from './store-suite.js';
