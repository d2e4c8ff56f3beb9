export type { DashboardOptions } from './dashboard.js';
export { DASHBOARD_TOKEN_COOKIE, defaultDashboardDirectory } from './dashboard.js';
export type { AsmHandler, AsmHandlerOptions, AuthorizeRequest } from './handler.js';
export { bearerToken, createAsmHandler, httpStatusFor } from './handler.js';
export type { AsmServer, AsmServerOptions } from './node-server.js';
export { createAsmServer } from './node-server.js';
export type {
  ProviderModelUsage,
  SessionSummary,
  UsageEntry,
  UsageFilter,
  UsageReport,
} from './usage.js';
export { summarizeSession, usageOfRuns, usageOfStore } from './usage.js';
