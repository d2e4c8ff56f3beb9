CREATE TABLE `asm_events` (
	`id` text PRIMARY KEY NOT NULL,
	`session_id` text NOT NULL,
	`sequence` integer NOT NULL,
	`type` text NOT NULL,
	`timestamp` text NOT NULL,
	`run_id` text,
	`data` text DEFAULT '{}' NOT NULL,
	`metadata` text DEFAULT '{}' NOT NULL,
	`schema_version` integer DEFAULT 1 NOT NULL,
	`provider` text,
	`correlation_id` text,
	FOREIGN KEY (`session_id`) REFERENCES `asm_sessions`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `asm_events_session_sequence_idx` ON `asm_events` (`session_id`,`sequence`);--> statement-breakpoint
CREATE INDEX `asm_events_run_idx` ON `asm_events` (`run_id`,`sequence`);--> statement-breakpoint
CREATE INDEX `asm_events_session_type_idx` ON `asm_events` (`session_id`,`type`,`sequence`);--> statement-breakpoint
CREATE TABLE `asm_runs` (
	`id` text PRIMARY KEY NOT NULL,
	`session_id` text NOT NULL,
	`status` text NOT NULL,
	`input` text NOT NULL,
	`output` text,
	`error` text,
	`metadata` text DEFAULT '{}' NOT NULL,
	`turn_count` integer DEFAULT 0 NOT NULL,
	`token_usage` text NOT NULL,
	`cost_usd` real,
	`provider` text,
	`provider_metadata` text DEFAULT '{}' NOT NULL,
	`created_at` text NOT NULL,
	`started_at` text,
	`ended_at` text,
	FOREIGN KEY (`session_id`) REFERENCES `asm_sessions`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `asm_runs_session_created_idx` ON `asm_runs` (`session_id`,`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `asm_runs_status_idx` ON `asm_runs` (`status`);--> statement-breakpoint
CREATE INDEX `asm_runs_provider_idx` ON `asm_runs` (`provider`);--> statement-breakpoint
CREATE TABLE `asm_session_sequences` (
	`session_id` text PRIMARY KEY NOT NULL,
	`last_sequence` integer DEFAULT 0 NOT NULL,
	FOREIGN KEY (`session_id`) REFERENCES `asm_sessions`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `asm_sessions` (
	`id` text PRIMARY KEY NOT NULL,
	`agent_id` text NOT NULL,
	`status` text NOT NULL,
	`parent_session_id` text,
	`metadata` text DEFAULT '{}' NOT NULL,
	`context` text DEFAULT '{}' NOT NULL,
	`tags` text DEFAULT '[]' NOT NULL,
	`created_at` text NOT NULL,
	`updated_at` text NOT NULL,
	`deleted_at` text
);
--> statement-breakpoint
CREATE INDEX `asm_sessions_status_idx` ON `asm_sessions` (`status`);--> statement-breakpoint
CREATE INDEX `asm_sessions_agent_idx` ON `asm_sessions` (`agent_id`);--> statement-breakpoint
CREATE INDEX `asm_sessions_created_idx` ON `asm_sessions` (`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `asm_sessions_updated_idx` ON `asm_sessions` (`updated_at`,`id`);--> statement-breakpoint
CREATE INDEX `asm_sessions_deleted_idx` ON `asm_sessions` (`deleted_at`);