CREATE TABLE "asm_events" (
	"id" text PRIMARY KEY NOT NULL,
	"session_id" text NOT NULL,
	"sequence" integer NOT NULL,
	"type" text NOT NULL,
	"timestamp" text NOT NULL,
	"occurred_at" timestamp(6) with time zone NOT NULL,
	"occurred_at_ns" smallint DEFAULT 0 NOT NULL,
	"run_id" text,
	"data" jsonb NOT NULL,
	"metadata" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"schema_version" integer DEFAULT 1 NOT NULL,
	"provider" text,
	"correlation_id" text
);
--> statement-breakpoint
CREATE TABLE "asm_runs" (
	"id" text PRIMARY KEY NOT NULL,
	"session_id" text NOT NULL,
	"status" text NOT NULL,
	"input" jsonb,
	"output" jsonb,
	"error" jsonb,
	"metadata" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"turn_count" integer DEFAULT 0 NOT NULL,
	"token_usage" jsonb NOT NULL,
	"cost_usd" double precision,
	"provider" text,
	"provider_metadata" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp(6) with time zone NOT NULL,
	"created_at_iso" text NOT NULL,
	"started_at" timestamp(6) with time zone,
	"started_at_iso" text,
	"ended_at" timestamp(6) with time zone,
	"ended_at_iso" text
);
--> statement-breakpoint
CREATE TABLE "asm_session_sequences" (
	"session_id" text PRIMARY KEY NOT NULL,
	"last_sequence" integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE "asm_sessions" (
	"id" text PRIMARY KEY NOT NULL,
	"agent_id" text NOT NULL,
	"status" text NOT NULL,
	"parent_session_id" text,
	"metadata" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"context" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"tags" text[] DEFAULT '{}' NOT NULL,
	"created_at" timestamp(6) with time zone NOT NULL,
	"created_at_iso" text NOT NULL,
	"updated_at" timestamp(6) with time zone NOT NULL,
	"updated_at_iso" text NOT NULL,
	"deleted_at" timestamp(6) with time zone,
	"deleted_at_iso" text
);
--> statement-breakpoint
CREATE UNIQUE INDEX "asm_events_session_sequence_idx" ON "asm_events" USING btree ("session_id","sequence");--> statement-breakpoint
CREATE INDEX "asm_events_run_idx" ON "asm_events" USING btree ("run_id","sequence");--> statement-breakpoint
CREATE INDEX "asm_events_session_type_idx" ON "asm_events" USING btree ("session_id","type","sequence");--> statement-breakpoint
CREATE INDEX "asm_runs_session_created_idx" ON "asm_runs" USING btree ("session_id","created_at","id");--> statement-breakpoint
CREATE INDEX "asm_runs_status_idx" ON "asm_runs" USING btree ("status");--> statement-breakpoint
CREATE INDEX "asm_runs_provider_idx" ON "asm_runs" USING btree ("provider");--> statement-breakpoint
CREATE INDEX "asm_sessions_status_idx" ON "asm_sessions" USING btree ("status");--> statement-breakpoint
CREATE INDEX "asm_sessions_agent_idx" ON "asm_sessions" USING btree ("agent_id");--> statement-breakpoint
CREATE INDEX "asm_sessions_created_idx" ON "asm_sessions" USING btree ("created_at","id");