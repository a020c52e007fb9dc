CREATE TABLE "task_dependencies" (
	"tenant" text DEFAULT 'default' NOT NULL,
	"task_id" text NOT NULL,
	"depends_on" text NOT NULL,
	CONSTRAINT "task_dependencies_tenant_task_id_depends_on_pk" PRIMARY KEY("tenant","task_id","depends_on")
);
--> statement-breakpoint
CREATE TABLE "task_queue_configs" (
	"tenant" text DEFAULT 'default' NOT NULL,
	"name" text NOT NULL,
	"priority" integer DEFAULT 0 NOT NULL,
	"mode" integer DEFAULT 0 NOT NULL,
	"default_timeout_ms" bigint,
	"default_max_attempts" integer DEFAULT 0 NOT NULL,
	"concurrency_limit" integer DEFAULT 0 NOT NULL,
	"deployment" text,
	"source" text NOT NULL,
	"request_id" text,
	"created_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL,
	CONSTRAINT "task_queue_configs_tenant_name_pk" PRIMARY KEY("tenant","name")
);
--> statement-breakpoint
CREATE TABLE "task_queues" (
	"tenant" text DEFAULT 'default' NOT NULL,
	"name" text NOT NULL,
	"paused" integer DEFAULT 0 NOT NULL,
	"pause_updated_at" bigint NOT NULL,
	CONSTRAINT "task_queues_tenant_name_pk" PRIMARY KEY("tenant","name")
);
--> statement-breakpoint
CREATE TABLE "tasks" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"tenant" text DEFAULT 'default' NOT NULL,
	"id" text NOT NULL,
	"queue" text NOT NULL,
	"type" text DEFAULT '' NOT NULL,
	"priority" integer DEFAULT 0 NOT NULL,
	"payload" text,
	"capabilities" text,
	"run_at" bigint NOT NULL,
	"timeout_ms" bigint,
	"max_attempts" integer NOT NULL,
	"attempt" integer DEFAULT 0 NOT NULL,
	"fencing_token" bigint DEFAULT 0 NOT NULL,
	"depends_on" text,
	"has_dependents" integer DEFAULT 0 NOT NULL,
	"progress" integer DEFAULT 0 NOT NULL,
	"progress_message" text DEFAULT '' NOT NULL,
	"result" text,
	"error" text,
	"state" integer NOT NULL,
	"worker_id" text,
	"server_id" text,
	"lease_expires_at" bigint,
	"lease_duration_ms" bigint,
	"deadline_at" bigint,
	"metadata" text,
	"created_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL,
	"started_at" bigint,
	"finished_at" bigint,
	"request_id" text,
	"title" text DEFAULT '' NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"tags" text,
	"retry_count" integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE INDEX "task_dependencies_depends_on_idx" ON "task_dependencies" USING btree ("tenant","depends_on");--> statement-breakpoint
CREATE UNIQUE INDEX "tasks_id_unique" ON "tasks" USING btree ("tenant","id");--> statement-breakpoint
CREATE INDEX "tasks_claim_idx" ON "tasks" USING btree ("tenant","queue","state","priority" desc,"seq");--> statement-breakpoint
CREATE INDEX "tasks_state_lease_idx" ON "tasks" USING btree ("state","lease_expires_at");--> statement-breakpoint
CREATE INDEX "tasks_state_deadline_idx" ON "tasks" USING btree ("state","deadline_at");--> statement-breakpoint
CREATE INDEX "tasks_created_idx" ON "tasks" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "tasks_finished_idx" ON "tasks" USING btree ("finished_at") WHERE "tasks"."finished_at" is not null;--> statement-breakpoint
CREATE UNIQUE INDEX "tasks_request_id_unique" ON "tasks" USING btree ("tenant","request_id") WHERE "tasks"."request_id" is not null;