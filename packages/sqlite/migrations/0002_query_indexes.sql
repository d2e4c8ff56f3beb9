CREATE INDEX `asm_events_time_idx` ON `asm_events` (`timestamp`,`session_id`,`sequence`);--> statement-breakpoint
CREATE INDEX `asm_events_correlation_idx` ON `asm_events` (`correlation_id`) WHERE "correlation_id" IS NOT NULL;--> statement-breakpoint
CREATE INDEX `asm_runs_created_idx` ON `asm_runs` (`created_at`,`id`);