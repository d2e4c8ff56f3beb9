CREATE TABLE `asm_artifacts` (
	`key` text PRIMARY KEY NOT NULL,
	`session_id` text,
	`run_id` text,
	`content_type` text,
	`byte_size` integer NOT NULL,
	`checksum_sha256` text NOT NULL,
	`storage_backend` text NOT NULL,
	`storage_ref` text NOT NULL,
	`metadata` text DEFAULT '{}' NOT NULL,
	`created_at` text NOT NULL,
	`updated_at` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `asm_artifacts_created_idx` ON `asm_artifacts` (`created_at`,`key`);--> statement-breakpoint
CREATE INDEX `asm_artifacts_session_idx` ON `asm_artifacts` (`session_id`,`created_at`,`key`);--> statement-breakpoint
CREATE INDEX `asm_artifacts_run_idx` ON `asm_artifacts` (`run_id`,`created_at`,`key`);