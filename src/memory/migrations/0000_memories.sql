CREATE TABLE `memories` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`id` text NOT NULL,
	`tenant` text NOT NULL,
	`content` text NOT NULL,
	`type` text NOT NULL,
	`agent_id` text DEFAULT '' NOT NULL,
	`scope` text DEFAULT '' NOT NULL,
	`importance` real NOT NULL,
	`metadata` text,
	`tags` text DEFAULT '[]' NOT NULL,
	`source` text DEFAULT '' NOT NULL,
	`embedding_state` integer NOT NULL,
	`embedding_model` text,
	`backfill_job` text,
	`access_count` integer DEFAULT 0 NOT NULL,
	`last_access_at` integer NOT NULL,
	`expires_at` integer,
	`size_bytes` integer NOT NULL,
	`content_key` text NOT NULL,
	`merged_ids` text DEFAULT '[]' NOT NULL,
	`request_id` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `memories_id` ON `memories` (`id`);--> statement-breakpoint
CREATE UNIQUE INDEX `memories_request` ON `memories` (`tenant`,`request_id`) WHERE "memories"."request_id" IS NOT NULL;--> statement-breakpoint
CREATE INDEX `memories_tenant_seq` ON `memories` (`tenant`,`seq`);--> statement-breakpoint
CREATE INDEX `memories_tenant_type` ON `memories` (`tenant`,`type`,`seq`);--> statement-breakpoint
CREATE INDEX `memories_tenant_scope` ON `memories` (`tenant`,`scope`,`seq`);--> statement-breakpoint
CREATE INDEX `memories_tenant_state` ON `memories` (`tenant`,`embedding_state`,`seq`);--> statement-breakpoint
CREATE INDEX `memories_tenant_expires` ON `memories` (`tenant`,`expires_at`);--> statement-breakpoint
CREATE INDEX `memories_group` ON `memories` (`tenant`,`type`,`agent_id`,`scope`,`content_key`);--> statement-breakpoint
CREATE TABLE `memory_requests` (
	`tenant` text NOT NULL,
	`kind` text NOT NULL,
	`request_id` text NOT NULL,
	`answer` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `memory_requests_key` ON `memory_requests` (`tenant`,`kind`,`request_id`);