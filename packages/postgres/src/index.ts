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
