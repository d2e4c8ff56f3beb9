CREATE TABLE "asm_artifacts" (
	"key" text PRIMARY KEY NOT NULL,
	"session_id" text,
	"run_id" text,
	"content_type" text,
	"byte_size" bigint NOT NULL,
	"checksum_sha256" text NOT NULL,
	"storage_backend" text NOT NULL,
	"storage_ref" text NOT NULL,
	"metadata" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp(6) with time zone NOT NULL,
	"updated_at" timestamp(6) with time zone NOT NULL
);
--> statement-breakpoint
CREATE INDEX "asm_artifacts_created_idx" ON "asm_artifacts" USING btree ("created_at","key");--> statement-breakpoint
CREATE INDEX "asm_artifacts_session_idx" ON "asm_artifacts" USING btree ("session_id","created_at","key");--> statement-breakpoint
CREATE INDEX "asm_artifacts_run_idx" ON "asm_artifacts" USING btree ("run_id","created_at","key");