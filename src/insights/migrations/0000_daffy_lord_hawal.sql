CREATE TABLE `ins_calls` (
	`tenant` text NOT NULL,
	`task_id` text NOT NULL,
	`type` text NOT NULL,
	`subject` text NOT NULL,
	`status` text NOT NULL,
	`output` text,
	`error` text,
	`created_at` integer NOT NULL,
	`finished_at` integer,
	PRIMARY KEY(`tenant`, `task_id`)
);
--> statement-breakpoint
CREATE INDEX `ins_calls_pending` ON `ins_calls` (`status`);--> statement-breakpoint
CREATE TABLE `ins_conversation_events` (
	`tenant` text NOT NULL,
	`conversation_id` text NOT NULL,
	`sequence` integer NOT NULL,
	`type` text NOT NULL,
	`message_id` text DEFAULT '' NOT NULL,
	`data` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`tenant`, `conversation_id`, `sequence`)
);
--> statement-breakpoint
CREATE TABLE `ins_conversations` (
	`tenant` text NOT NULL,
	`id` text NOT NULL,
	`project_id` text NOT NULL,
	`workspace_id` text NOT NULL,
	`title` text NOT NULL,
	`manifest_hash` text NOT NULL,
	`status` text NOT NULL,
	`cleared_at` integer DEFAULT 0 NOT NULL,
	`last_seq` integer DEFAULT 0 NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`tenant`, `id`)
);
--> statement-breakpoint
CREATE INDEX `ins_conversations_updated` ON `ins_conversations` (`tenant`,`updated_at`);--> statement-breakpoint
CREATE TABLE `ins_decisions` (
	`tenant` text NOT NULL,
	`id` text NOT NULL,
	`project_id` text NOT NULL,
	`title` text NOT NULL,
	`decision` text NOT NULL,
	`rationale` text NOT NULL,
	`conversation_id` text NOT NULL,
	`message_id` text NOT NULL,
	`concepts` text NOT NULL,
	`task_id` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`tenant`, `id`)
);
--> statement-breakpoint
CREATE INDEX `ins_decisions_project` ON `ins_decisions` (`tenant`,`project_id`,`created_at`);--> statement-breakpoint
CREATE TABLE `ins_dismissals` (
	`tenant` text NOT NULL,
	`item_id` text NOT NULL,
	`dismissed_at` integer NOT NULL,
	PRIMARY KEY(`tenant`, `item_id`)
);
--> statement-breakpoint
CREATE TABLE `ins_messages` (
	`tenant` text NOT NULL,
	`id` text NOT NULL,
	`conversation_id` text NOT NULL,
	`seq` integer NOT NULL,
	`role` text NOT NULL,
	`content` text NOT NULL,
	`status` text NOT NULL,
	`error` text DEFAULT '' NOT NULL,
	`changed_files` text DEFAULT '[]' NOT NULL,
	`task_id` text DEFAULT '' NOT NULL,
	`cleared` integer DEFAULT 0 NOT NULL,
	`created_at` integer NOT NULL,
	`completed_at` integer,
	PRIMARY KEY(`tenant`, `id`)
);
--> statement-breakpoint
CREATE UNIQUE INDEX `ins_messages_seq` ON `ins_messages` (`tenant`,`conversation_id`,`seq`);--> statement-breakpoint
CREATE TABLE `ins_next_steps` (
	`tenant` text NOT NULL,
	`id` text NOT NULL,
	`project_id` text NOT NULL,
	`title` text NOT NULL,
	`description` text NOT NULL,
	`rationale` text NOT NULL,
	`priority` text NOT NULL,
	`category` text NOT NULL,
	`status` text NOT NULL,
	`helpful` integer,
	`task_id` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`tenant`, `id`)
);
--> statement-breakpoint
CREATE INDEX `ins_next_steps_project` ON `ins_next_steps` (`tenant`,`project_id`,`status`,`created_at`);