CREATE TABLE "server_health" (
	"server_id" text PRIMARY KEY NOT NULL,
	"tenant" text NOT NULL,
	"next_check_at" bigint NOT NULL,
	"state" text
);
--> statement-breakpoint
CREATE TABLE "server_settings" (
	"tenant" text PRIMARY KEY NOT NULL,
	"algorithm" text NOT NULL,
	"updated_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "server_status_log" (
	"server_id" text NOT NULL,
	"time" bigint NOT NULL,
	"tenant" text NOT NULL,
	"status" text NOT NULL,
	CONSTRAINT "server_status_log_server_id_time_pk" PRIMARY KEY("server_id","time")
);
--> statement-breakpoint
CREATE TABLE "servers" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant" text NOT NULL,
	"name" text NOT NULL,
	"kind" text NOT NULL,
	"endpoints" text DEFAULT '{}' NOT NULL,
	"api_key" text,
	"max_concurrent" integer DEFAULT 1 NOT NULL,
	"capabilities" text DEFAULT '[]' NOT NULL,
	"groups" text DEFAULT '[]' NOT NULL,
	"priority" integer DEFAULT 1 NOT NULL,
	"weight" integer,
	"labels" text DEFAULT '{}' NOT NULL,
	"queues" text DEFAULT '[]' NOT NULL,
	"register_time" bigint NOT NULL,
	"update_time" bigint NOT NULL,
	"request_id" text,
	"last_heartbeat_time" bigint,
	"reported_health" text,
	"last_load" text,
	"maintenance" text
);
--> statement-breakpoint
CREATE INDEX "server_health_due_idx" ON "server_health" USING btree ("next_check_at");--> statement-breakpoint
CREATE UNIQUE INDEX "servers_tenant_name_unique" ON "servers" USING btree ("tenant","name");--> statement-breakpoint
CREATE INDEX "servers_tenant_request_idx" ON "servers" USING btree ("tenant","request_id");