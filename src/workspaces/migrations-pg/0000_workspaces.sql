CREATE TABLE "ws_drift_reports" (
	"tenant" text NOT NULL,
	"id" text NOT NULL,
	"workspace_id" text NOT NULL,
	"files_added" integer NOT NULL,
	"files_modified" integer NOT NULL,
	"files_deleted" integer NOT NULL,
	"bytes_changed" bigint NOT NULL,
	"summary" text DEFAULT '' NOT NULL,
	"created_at" bigint NOT NULL,
	CONSTRAINT "ws_drift_reports_tenant_id_pk" PRIMARY KEY("tenant","id")
);
--> statement-breakpoint
CREATE TABLE "ws_env_vars" (
	"tenant" text NOT NULL,
	"id" text NOT NULL,
	"project_id" text NOT NULL,
	"key" text NOT NULL,
	"value" text NOT NULL,
	"is_secret" integer NOT NULL,
	"created_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL,
	CONSTRAINT "ws_env_vars_tenant_id_pk" PRIMARY KEY("tenant","id")
);
--> statement-breakpoint
CREATE TABLE "ws_events" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"tenant" text NOT NULL,
	"id" text NOT NULL,
	"project_id" text NOT NULL,
	"workspace_id" text DEFAULT '' NOT NULL,
	"type" text NOT NULL,
	"message" text NOT NULL,
	"data" text DEFAULT '{}' NOT NULL,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "ws_objects" (
	"tenant" text NOT NULL,
	"kind" text NOT NULL,
	"hash" text NOT NULL,
	"size" bigint NOT NULL,
	"created_at" bigint NOT NULL,
	CONSTRAINT "ws_objects_tenant_kind_hash_pk" PRIMARY KEY("tenant","kind","hash")
);
--> statement-breakpoint
CREATE TABLE "ws_projects" (
	"tenant" text NOT NULL,
	"id" text NOT NULL,
	"user_id" text NOT NULL,
	"name" text NOT NULL,
	"main_workspace_id" text,
	"last_snapshot_id" text,
	"intent" text DEFAULT '' NOT NULL,
	"brief" text DEFAULT '' NOT NULL,
	"request_id" text,
	"created_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL,
	CONSTRAINT "ws_projects_tenant_id_pk" PRIMARY KEY("tenant","id")
);
--> statement-breakpoint
CREATE TABLE "ws_snapshots" (
	"tenant" text NOT NULL,
	"id" text NOT NULL,
	"project_id" text NOT NULL,
	"workspace_id" text,
	"created_by" text DEFAULT '' NOT NULL,
	"manifest_hash" text NOT NULL,
	"parents" text NOT NULL,
	"source" text DEFAULT '' NOT NULL,
	"summary" text DEFAULT '' NOT NULL,
	"created_at" bigint NOT NULL,
	CONSTRAINT "ws_snapshots_tenant_id_pk" PRIMARY KEY("tenant","id")
);
--> statement-breakpoint
CREATE TABLE "ws_sync_previews" (
	"tenant" text NOT NULL,
	"id" text NOT NULL,
	"workspace_id" text NOT NULL,
	"workspace_version" integer NOT NULL,
	"plan" text NOT NULL,
	"expires_at" bigint NOT NULL,
	"executed_at" bigint,
	"result" text,
	CONSTRAINT "ws_sync_previews_tenant_id_pk" PRIMARY KEY("tenant","id")
);
--> statement-breakpoint
CREATE TABLE "ws_syncs" (
	"tenant" text NOT NULL,
	"id" text NOT NULL,
	"workspace_id" text NOT NULL,
	"preview_id" text NOT NULL,
	"pre_snapshot_id" text,
	"pre_manifest_hash" text,
	"post_snapshot_id" text NOT NULL,
	"post_version" integer NOT NULL,
	"created_at" bigint NOT NULL,
	"undone_at" bigint,
	CONSTRAINT "ws_syncs_tenant_id_pk" PRIMARY KEY("tenant","id")
);
--> statement-breakpoint
CREATE TABLE "ws_workspaces" (
	"tenant" text NOT NULL,
	"id" text NOT NULL,
	"project_id" text NOT NULL,
	"created_by" text DEFAULT '' NOT NULL,
	"name" text NOT NULL,
	"machine_id" text DEFAULT '' NOT NULL,
	"local_path" text DEFAULT '' NOT NULL,
	"base_snapshot_id" text,
	"last_snapshot_id" text,
	"current_manifest_hash" text,
	"version" integer DEFAULT 1 NOT NULL,
	"merge_history" text,
	"last_seen_at" bigint,
	"request_id" text,
	"created_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL,
	CONSTRAINT "ws_workspaces_tenant_id_pk" PRIMARY KEY("tenant","id")
);
--> statement-breakpoint
CREATE INDEX "ws_drift_by_workspace" ON "ws_drift_reports" USING btree ("tenant","workspace_id","created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "ws_env_vars_key" ON "ws_env_vars" USING btree ("tenant","project_id","key");--> statement-breakpoint
CREATE INDEX "ws_events_by_project" ON "ws_events" USING btree ("tenant","project_id","seq");--> statement-breakpoint
CREATE UNIQUE INDEX "ws_events_id" ON "ws_events" USING btree ("tenant","id");--> statement-breakpoint
CREATE INDEX "ws_objects_by_age" ON "ws_objects" USING btree ("tenant","kind","created_at");--> statement-breakpoint
CREATE INDEX "ws_projects_by_updated" ON "ws_projects" USING btree ("tenant","updated_at");--> statement-breakpoint
CREATE UNIQUE INDEX "ws_projects_request" ON "ws_projects" USING btree ("tenant","request_id");--> statement-breakpoint
CREATE INDEX "ws_snapshots_by_project" ON "ws_snapshots" USING btree ("tenant","project_id","created_at");--> statement-breakpoint
CREATE INDEX "ws_snapshots_by_workspace" ON "ws_snapshots" USING btree ("tenant","workspace_id","created_at");--> statement-breakpoint
CREATE INDEX "ws_sync_previews_by_expiry" ON "ws_sync_previews" USING btree ("expires_at");--> statement-breakpoint
CREATE INDEX "ws_syncs_by_workspace" ON "ws_syncs" USING btree ("tenant","workspace_id","created_at");--> statement-breakpoint
CREATE INDEX "ws_workspaces_by_project" ON "ws_workspaces" USING btree ("tenant","project_id","created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "ws_workspaces_request" ON "ws_workspaces" USING btree ("tenant","request_id");