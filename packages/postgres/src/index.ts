export type { PostgresArtifactRegistry } from './artifact-registry.js';
export { createPostgresArtifactRegistry } from './artifact-registry.js';
export type {
  MaintenanceReport,
  PostgresMaintenance,
  PostgresMaintenanceOptions,
  RetentionPolicy,
} from './maintenance.js';
export { createPostgresMaintenance, resolveRetentionPolicy } from './maintenance.js';
export type { MigrationOutcome, PostgresMigration } from './migrations.js';
export { applyMigrations, loadMigrations, POSTGRES_MIGRATIONS_FOLDER } from './migrations.js';
export type {
  PostgresConnectionOptions,
  PostgresPoolOptions,
  PostgresSessionStore,
  PostgresStoreCommonOptions,
  PostgresStoreOptions,
} from './postgres-store.js';
export { createPostgresStore } from './postgres-store.js';
export type { PostgresTables } from './schema.js';
export { createTables, DEFAULT_SCHEMA, TABLE_NAMES } from './schema.js';
export type {
  PostgresSessionLease,
  PostgresSessionLeaseCommonOptions,
  PostgresSessionLeaseOptions,
} from './session-lease.js';
export { createPostgresSessionLease, LEASE_TABLE, LEASE_TOKEN_SEQUENCE } from './session-lease.js';
