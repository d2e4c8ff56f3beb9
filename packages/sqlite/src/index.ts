export type { SqliteArtifactRegistry } from './artifact-registry.js';
export { createSqliteArtifactRegistry } from './artifact-registry.js';
export type {
  MaintenanceReport,
  RetentionPolicy,
  SqliteMaintenance,
  SqliteMaintenanceOptions,
} from './maintenance.js';
export { createSqliteMaintenance, resolveRetentionPolicy } from './maintenance.js';
export type { MigrationOutcome, SqliteMigration } from './migrations.js';
export { applyMigrations, loadMigrations, SQLITE_MIGRATIONS_FOLDER } from './migrations.js';
export type { SqliteTables } from './schema.js';
export { createTables, DEFAULT_TABLE_PREFIX } from './schema.js';
export type {
  SqliteSessionStore,
  SqliteStoreCommonOptions,
  SqliteStoreDatabaseOptions,
  SqliteStoreOptions,
  SqliteStorePathOptions,
} from './sqlite-store.js';
export { createSqliteStore } from './sqlite-store.js';
