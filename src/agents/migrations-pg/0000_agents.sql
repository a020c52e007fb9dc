CREATE TABLE "agent_integrations" (
	"tenant" text NOT NULL,
	"name" text NOT NULL,
	"value" text NOT NULL,
	"sealed" text,
	"updated_at" bigint NOT NULL,
	"expires_at" bigint,
	CONSTRAINT "agent_integrations_tenant_name_pk" PRIMARY KEY("tenant","name")
);
--> statement-breakpoint
CREATE TABLE "agent_session_events" (
	"tenant" text NOT NULL,
	"session_id" text NOT NULL,
	"seq" bigint NOT NULL,
	"time" bigint NOT NULL,
	"name" text NOT NULL,
	"data" text NOT NULL,
	CONSTRAINT "agent_session_events_tenant_session_id_seq_pk" PRIMARY KEY("tenant","session_id","seq")
);
--> statement-breakpoint
CREATE TABLE "agent_sessions" (
	"tenant" text NOT NULL,
	"id" text NOT NULL,
	"kind" integer NOT NULL,
	"state" integer NOT NULL,
	"prompt" text NOT NULL,
	"repository" text NOT NULL,
	"options" text NOT NULL,
	"task_id" text NOT NULL,
	"worker_id" text,
	"issue_number" bigint DEFAULT 0 NOT NULL,
	"active_issue_key" text,
	"pull_request_url" text DEFAULT '' NOT NULL,
	"current_turn" integer DEFAULT 0 NOT NULL,
	"last_seq" bigint DEFAULT 0 NOT NULL,
	"input_tokens" bigint DEFAULT 0 NOT NULL,
	"output_tokens" bigint DEFAULT 0 NOT NULL,
	"cost_usd" double precision DEFAULT 0 NOT NULL,
	"created_at" bigint NOT NULL,
	"last_activity_at" bigint NOT NULL,
	"completed_at" bigint,
	"error_message" text DEFAULT '' NOT NULL,
	"request_id" text,
	"base_url" text NOT NULL,
	"sealed_api_key" text,
	"sealed_github_token" text,
	CONSTRAINT "agent_sessions_tenant_id_pk" PRIMARY KEY("tenant","id")
);
--> statement-breakpoint
CREATE TABLE "agent_usage_days" (
	"tenant" text NOT NULL,
	"day" text NOT NULL,
	"tokens" bigint DEFAULT 0 NOT NULL,
	"cost_usd" double precision DEFAULT 0 NOT NULL,
	CONSTRAINT "agent_usage_days_tenant_day_pk" PRIMARY KEY("tenant","day")
);
--> statement-breakpoint
CREATE TABLE "agent_github_deliveries" (
	"tenant" text NOT NULL,
	"delivery_id" text NOT NULL,
	"event" text NOT NULL,
	"action" text NOT NULL,
	"outcome" integer NOT NULL,
	"session_id" text DEFAULT '' NOT NULL,
	"received_at" bigint NOT NULL,
	CONSTRAINT "agent_github_deliveries_tenant_delivery_id_pk" PRIMARY KEY("tenant","delivery_id")
);
--> statement-breakpoint
CREATE INDEX "agent_sessions_created" ON "agent_sessions" USING btree ("tenant","created_at");--> statement-breakpoint
CREATE INDEX "agent_sessions_state" ON "agent_sessions" USING btree ("tenant","state");--> statement-breakpoint
CREATE INDEX "agent_sessions_task" ON "agent_sessions" USING btree ("task_id");--> statement-breakpoint
CREATE INDEX "agent_sessions_request" ON "agent_sessions" USING btree ("tenant","request_id");--> statement-breakpoint
CREATE INDEX "agent_sessions_issue" ON "agent_sessions" USING btree ("tenant","active_issue_key");--> statement-breakpoint
CREATE INDEX "agent_github_deliveries_time" ON "agent_github_deliveries" USING btree ("received_at");