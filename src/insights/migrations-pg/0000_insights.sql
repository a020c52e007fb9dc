CREATE TABLE "ins_action_items" (
	"tenant" text NOT NULL,
	"id" text NOT NULL,
	"type" text NOT NULL,
	"severity" text NOT NULL,
	"workspace_id" text NOT NULL,
	"project_id" text NOT NULL,
	"title" text NOT NULL,
	"description" text NOT NULL,
	"files" text NOT NULL,
	"created_at" bigint NOT NULL,
	CONSTRAINT "ins_action_items_tenant_id_pk" PRIMARY KEY("tenant","id")
);
--> statement-breakpoint
CREATE TABLE "ins_action_runs" (
	"tenant" text NOT NULL,
	"id" text NOT NULL,
	"item_id" text NOT NULL,
	"workspace_id" text NOT NULL,
	"status" text NOT NULL,
	"attempt_count" integer DEFAULT 0 NOT NULL,
	"max_attempts" integer NOT NULL,
	"result" text,
	"error" text DEFAULT '' NOT NULL,
	"base_manifest_hash" text NOT NULL,
	"result_manifest_hash" text DEFAULT '' NOT NULL,
	"task_id" text NOT NULL,
	"created_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL,
	"completed_at" bigint,
	CONSTRAINT "ins_action_runs_tenant_id_pk" PRIMARY KEY("tenant","id")
);
--> statement-breakpoint
CREATE TABLE "ins_atlas_concepts" (
	"rowid" bigint GENERATED ALWAYS AS IDENTITY (sequence name "ins_atlas_concepts_rowid_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"tenant" text NOT NULL,
	"project_id" text NOT NULL,
	"id" text NOT NULL,
	"name" text NOT NULL,
	"description" text NOT NULL,
	"layer" text NOT NULL,
	"path" text NOT NULL,
	"parent_id" text NOT NULL,
	"updated_at" bigint NOT NULL,
	CONSTRAINT "ins_atlas_concepts_tenant_project_id_id_pk" PRIMARY KEY("tenant","project_id","id")
);
--> statement-breakpoint
CREATE TABLE "ins_atlas_edges" (
	"rowid" bigint GENERATED ALWAYS AS IDENTITY (sequence name "ins_atlas_edges_rowid_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"tenant" text NOT NULL,
	"project_id" text NOT NULL,
	"id" text NOT NULL,
	"source_id" text NOT NULL,
	"target_id" text NOT NULL,
	"type" text NOT NULL,
	"weight" double precision NOT NULL,
	CONSTRAINT "ins_atlas_edges_tenant_project_id_id_pk" PRIMARY KEY("tenant","project_id","id")
);
--> statement-breakpoint
CREATE TABLE "ins_atlas_index" (
	"tenant" text NOT NULL,
	"project_id" text NOT NULL,
	"snapshot_id" text NOT NULL,
	"concepts" integer NOT NULL,
	"edges" integer NOT NULL,
	"truncated" integer NOT NULL,
	"indexed_at" bigint NOT NULL,
	CONSTRAINT "ins_atlas_index_tenant_project_id_pk" PRIMARY KEY("tenant","project_id")
);
--> statement-breakpoint
CREATE TABLE "ins_calls" (
	"tenant" text NOT NULL,
	"task_id" text NOT NULL,
	"type" text NOT NULL,
	"subject" text NOT NULL,
	"status" text NOT NULL,
	"output" text,
	"error" text,
	"secret" text,
	"created_at" bigint NOT NULL,
	"finished_at" bigint,
	CONSTRAINT "ins_calls_tenant_task_id_pk" PRIMARY KEY("tenant","task_id")
);
--> statement-breakpoint
CREATE TABLE "ins_conversation_events" (
	"tenant" text NOT NULL,
	"conversation_id" text NOT NULL,
	"sequence" bigint NOT NULL,
	"type" text NOT NULL,
	"message_id" text DEFAULT '' NOT NULL,
	"data" text NOT NULL,
	"created_at" bigint NOT NULL,
	CONSTRAINT "ins_conversation_events_tenant_conversation_id_sequence_pk" PRIMARY KEY("tenant","conversation_id","sequence")
);
--> statement-breakpoint
CREATE TABLE "ins_conversations" (
	"tenant" text NOT NULL,
	"id" text NOT NULL,
	"project_id" text NOT NULL,
	"workspace_id" text NOT NULL,
	"title" text NOT NULL,
	"manifest_hash" text NOT NULL,
	"status" text NOT NULL,
	"cleared_at" bigint DEFAULT 0 NOT NULL,
	"last_seq" bigint DEFAULT 0 NOT NULL,
	"created_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL,
	CONSTRAINT "ins_conversations_tenant_id_pk" PRIMARY KEY("tenant","id")
);
--> statement-breakpoint
CREATE TABLE "ins_credentials" (
	"tenant" text NOT NULL,
	"provider" text NOT NULL,
	"id" text NOT NULL,
	"user_id" text NOT NULL,
	"sealed" text NOT NULL,
	"metadata" text NOT NULL,
	"created_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL,
	CONSTRAINT "ins_credentials_tenant_provider_pk" PRIMARY KEY("tenant","provider")
);
--> statement-breakpoint
CREATE TABLE "ins_decisions" (
	"rowid" bigint GENERATED ALWAYS AS IDENTITY (sequence name "ins_decisions_rowid_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"tenant" text NOT NULL,
	"id" text NOT NULL,
	"project_id" text NOT NULL,
	"title" text NOT NULL,
	"decision" text NOT NULL,
	"rationale" text NOT NULL,
	"conversation_id" text NOT NULL,
	"message_id" text NOT NULL,
	"concepts" text NOT NULL,
	"task_id" text NOT NULL,
	"created_at" bigint NOT NULL,
	CONSTRAINT "ins_decisions_tenant_id_pk" PRIMARY KEY("tenant","id")
);
--> statement-breakpoint
CREATE TABLE "ins_deploy_settings" (
	"tenant" text NOT NULL,
	"workspace_id" text NOT NULL,
	"auto_deploy" integer NOT NULL,
	"runtime_override" text NOT NULL,
	"build_command" text NOT NULL,
	"start_command" text NOT NULL,
	"updated_at" bigint NOT NULL,
	CONSTRAINT "ins_deploy_settings_tenant_workspace_id_pk" PRIMARY KEY("tenant","workspace_id")
);
--> statement-breakpoint
CREATE TABLE "ins_deployments" (
	"tenant" text NOT NULL,
	"id" text NOT NULL,
	"workspace_id" text NOT NULL,
	"project_id" text NOT NULL,
	"snapshot_id" text NOT NULL,
	"status" text NOT NULL,
	"trigger" text NOT NULL,
	"url" text DEFAULT '' NOT NULL,
	"error" text DEFAULT '' NOT NULL,
	"conversation_id" text DEFAULT '' NOT NULL,
	"task_id" text NOT NULL,
	"tasks" text NOT NULL,
	"request_id" text,
	"started_at" bigint NOT NULL,
	"completed_at" bigint,
	CONSTRAINT "ins_deployments_tenant_id_pk" PRIMARY KEY("tenant","id")
);
--> statement-breakpoint
CREATE TABLE "ins_diagrams" (
	"tenant" text NOT NULL,
	"id" text NOT NULL,
	"project_id" text NOT NULL,
	"concept_id" text NOT NULL,
	"type" text NOT NULL,
	"title" text NOT NULL,
	"nodes" text NOT NULL,
	"edges" text NOT NULL,
	"task_id" text NOT NULL,
	"created_at" bigint NOT NULL,
	CONSTRAINT "ins_diagrams_tenant_id_pk" PRIMARY KEY("tenant","id")
);
--> statement-breakpoint
CREATE TABLE "ins_dismissals" (
	"tenant" text NOT NULL,
	"item_id" text NOT NULL,
	"dismissed_at" bigint NOT NULL,
	CONSTRAINT "ins_dismissals_tenant_item_id_pk" PRIMARY KEY("tenant","item_id")
);
--> statement-breakpoint
CREATE TABLE "ins_messages" (
	"tenant" text NOT NULL,
	"id" text NOT NULL,
	"conversation_id" text NOT NULL,
	"seq" bigint NOT NULL,
	"role" text NOT NULL,
	"content" text NOT NULL,
	"status" text NOT NULL,
	"error" text DEFAULT '' NOT NULL,
	"changed_files" text DEFAULT '[]' NOT NULL,
	"task_id" text DEFAULT '' NOT NULL,
	"cleared" integer DEFAULT 0 NOT NULL,
	"created_at" bigint NOT NULL,
	"completed_at" bigint,
	CONSTRAINT "ins_messages_tenant_id_pk" PRIMARY KEY("tenant","id")
);
--> statement-breakpoint
CREATE TABLE "ins_next_steps" (
	"rowid" bigint GENERATED ALWAYS AS IDENTITY (sequence name "ins_next_steps_rowid_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"tenant" text NOT NULL,
	"id" text NOT NULL,
	"project_id" text NOT NULL,
	"title" text NOT NULL,
	"description" text NOT NULL,
	"rationale" text NOT NULL,
	"priority" text NOT NULL,
	"category" text NOT NULL,
	"status" text NOT NULL,
	"helpful" integer,
	"task_id" text NOT NULL,
	"created_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL,
	CONSTRAINT "ins_next_steps_tenant_id_pk" PRIMARY KEY("tenant","id")
);
--> statement-breakpoint
CREATE TABLE "ins_questions" (
	"tenant" text NOT NULL,
	"conversation_id" text NOT NULL,
	"id" text NOT NULL,
	"message_id" text NOT NULL,
	"task_id" text NOT NULL,
	"questions" text NOT NULL,
	"status" text NOT NULL,
	"answers" text,
	"created_at" bigint NOT NULL,
	CONSTRAINT "ins_questions_tenant_conversation_id_id_pk" PRIMARY KEY("tenant","conversation_id","id")
);
--> statement-breakpoint
CREATE TABLE "ins_resources" (
	"tenant" text NOT NULL,
	"id" text NOT NULL,
	"project_id" text NOT NULL,
	"type" text NOT NULL,
	"provider" text NOT NULL,
	"name" text NOT NULL,
	"status" text NOT NULL,
	"provider_resource_id" text NOT NULL,
	"connection" text NOT NULL,
	"env_var_keys" text NOT NULL,
	"created_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL,
	CONSTRAINT "ins_resources_tenant_id_pk" PRIMARY KEY("tenant","id")
);
--> statement-breakpoint
CREATE TABLE "ins_schedules" (
	"tenant" text NOT NULL,
	"id" text NOT NULL,
	"name" text NOT NULL,
	"cron" text NOT NULL,
	"queue" text NOT NULL,
	"type" text NOT NULL,
	"payload" text,
	"paused" integer DEFAULT 0 NOT NULL,
	"next_run_at" bigint,
	"last_run_at" bigint,
	"last_task_id" text DEFAULT '' NOT NULL,
	"run_count" bigint DEFAULT 0 NOT NULL,
	"claimed_tick" bigint,
	"claimed_until" bigint,
	"request_id" text,
	"created_at" bigint NOT NULL,
	CONSTRAINT "ins_schedules_tenant_id_pk" PRIMARY KEY("tenant","id")
);
--> statement-breakpoint
CREATE INDEX "ins_action_items_ws" ON "ins_action_items" USING btree ("tenant","workspace_id");--> statement-breakpoint
CREATE INDEX "ins_action_runs_item" ON "ins_action_runs" USING btree ("tenant","item_id","created_at");--> statement-breakpoint
CREATE INDEX "ins_calls_pending" ON "ins_calls" USING btree ("status");--> statement-breakpoint
CREATE INDEX "ins_conversations_updated" ON "ins_conversations" USING btree ("tenant","updated_at");--> statement-breakpoint
CREATE INDEX "ins_decisions_project" ON "ins_decisions" USING btree ("tenant","project_id","created_at");--> statement-breakpoint
CREATE INDEX "ins_deployments_ws" ON "ins_deployments" USING btree ("tenant","workspace_id","started_at");--> statement-breakpoint
CREATE UNIQUE INDEX "ins_deployments_request" ON "ins_deployments" USING btree ("tenant","request_id");--> statement-breakpoint
CREATE INDEX "ins_diagrams_project" ON "ins_diagrams" USING btree ("tenant","project_id","created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "ins_messages_seq" ON "ins_messages" USING btree ("tenant","conversation_id","seq");--> statement-breakpoint
CREATE INDEX "ins_next_steps_project" ON "ins_next_steps" USING btree ("tenant","project_id","status","created_at");--> statement-breakpoint
CREATE INDEX "ins_resources_project" ON "ins_resources" USING btree ("tenant","project_id","created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "ins_schedules_name" ON "ins_schedules" USING btree ("tenant","name");--> statement-breakpoint
CREATE UNIQUE INDEX "ins_schedules_request" ON "ins_schedules" USING btree ("tenant","request_id");--> statement-breakpoint
CREATE INDEX "ins_schedules_due" ON "ins_schedules" USING btree ("paused","next_run_at");