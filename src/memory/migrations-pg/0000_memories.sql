CREATE TABLE "memories" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"id" text NOT NULL,
	"tenant" text NOT NULL,
	"content" text NOT NULL,
	"type" text NOT NULL,
	"agent_id" text DEFAULT '' NOT NULL,
	"scope" text DEFAULT '' NOT NULL,
	"importance" double precision NOT NULL,
	"metadata" text,
	"tags" text DEFAULT '[]' NOT NULL,
	"source" text DEFAULT '' NOT NULL,
	"embedding_state" integer NOT NULL,
	"embedding_model" text,
	"backfill_job" text,
	"access_count" integer DEFAULT 0 NOT NULL,
	"last_access_at" bigint NOT NULL,
	"expires_at" bigint,
	"size_bytes" integer NOT NULL,
	"content_key" text NOT NULL,
	"merged_ids" text DEFAULT '[]' NOT NULL,
	"request_id" text,
	"created_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL,
	"fts" "tsvector" NOT NULL
);
--> statement-breakpoint
CREATE TABLE "memory_compaction_slots" (
	"tenant" text PRIMARY KEY NOT NULL,
	"task_id" text NOT NULL,
	"updated_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "memory_requests" (
	"tenant" text NOT NULL,
	"kind" text NOT NULL,
	"request_id" text NOT NULL,
	"answer" text NOT NULL,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX "memories_id" ON "memories" USING btree ("id");--> statement-breakpoint
CREATE UNIQUE INDEX "memories_request" ON "memories" USING btree ("tenant","request_id") WHERE "memories"."request_id" IS NOT NULL;--> statement-breakpoint
CREATE INDEX "memories_tenant_seq" ON "memories" USING btree ("tenant","seq");--> statement-breakpoint
CREATE INDEX "memories_tenant_type" ON "memories" USING btree ("tenant","type","seq");--> statement-breakpoint
CREATE INDEX "memories_tenant_scope" ON "memories" USING btree ("tenant","scope","seq");--> statement-breakpoint
CREATE INDEX "memories_tenant_state" ON "memories" USING btree ("tenant","embedding_state","seq");--> statement-breakpoint
CREATE INDEX "memories_tenant_expires" ON "memories" USING btree ("tenant","expires_at");--> statement-breakpoint
CREATE INDEX "memories_group" ON "memories" USING btree ("tenant","type","agent_id","scope","content_key");--> statement-breakpoint
CREATE INDEX "memories_fts" ON "memories" USING gin ("fts") WITH (fastupdate=off);--> statement-breakpoint
CREATE UNIQUE INDEX "memory_requests_key" ON "memory_requests" USING btree ("tenant","kind","request_id");