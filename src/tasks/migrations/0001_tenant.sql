PRAGMA foreign_keys=OFF;--> statement-breakpoint
CREATE TABLE `__new_task_dependencies` (
	`tenant` text DEFAULT 'default' NOT NULL,
	`task_id` text NOT NULL,
	`depends_on` text NOT NULL,
	PRIMARY KEY(`tenant`, `task_id`, `depends_on`)
);
--> statement-breakpoint
INSERT INTO `__new_task_dependencies`("tenant", "task_id", "depends_on") SELECT 'default', "task_id", "depends_on" FROM `task_dependencies`;--> statement-breakpoint
DROP TABLE `task_dependencies`;--> statement-breakpoint
ALTER TABLE `__new_task_dependencies` RENAME TO `task_dependencies`;--> statement-breakpoint
PRAGMA foreign_keys=ON;--> statement-breakpoint
CREATE INDEX `task_dependencies_depends_on_idx` ON `task_dependencies` (`tenant`,`depends_on`);--> statement-breakpoint
DROP INDEX `tasks_id_unique`;--> statement-breakpoint
DROP INDEX `tasks_claim_idx`;--> statement-breakpoint
DROP INDEX `tasks_request_id_unique`;--> statement-breakpoint
ALTER TABLE `tasks` ADD `tenant` text DEFAULT 'default' NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX `tasks_id_unique` ON `tasks` (`tenant`,`id`);--> statement-breakpoint
CREATE INDEX `tasks_claim_idx` ON `tasks` (`tenant`,`queue`,`state`,"priority" desc,`seq`);--> statement-breakpoint
CREATE UNIQUE INDEX `tasks_request_id_unique` ON `tasks` (`tenant`,`request_id`) WHERE "tasks"."request_id" is not null;--> statement-breakpoint
CREATE TABLE `__new_task_queue_configs` (
	`tenant` text DEFAULT 'default' NOT NULL,
	`name` text NOT NULL,
	`priority` integer DEFAULT 0 NOT NULL,
	`mode` integer DEFAULT 0 NOT NULL,
	`default_timeout_ms` integer,
	`default_max_attempts` integer DEFAULT 0 NOT NULL,
	`concurrency_limit` integer DEFAULT 0 NOT NULL,
	`deployment` text,
	`source` text NOT NULL,
	`request_id` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`tenant`, `name`)
);
--> statement-breakpoint
INSERT INTO `__new_task_queue_configs`("tenant", "name", "priority", "mode", "default_timeout_ms", "default_max_attempts", "concurrency_limit", "deployment", "source", "request_id", "created_at", "updated_at") SELECT 'default', "name", "priority", "mode", "default_timeout_ms", "default_max_attempts", "concurrency_limit", "deployment", "source", "request_id", "created_at", "updated_at" FROM `task_queue_configs`;--> statement-breakpoint
DROP TABLE `task_queue_configs`;--> statement-breakpoint
ALTER TABLE `__new_task_queue_configs` RENAME TO `task_queue_configs`;--> statement-breakpoint
CREATE TABLE `__new_task_queues` (
	`tenant` text DEFAULT 'default' NOT NULL,
	`name` text NOT NULL,
	`paused` integer DEFAULT 0 NOT NULL,
	`pause_updated_at` integer NOT NULL,
	PRIMARY KEY(`tenant`, `name`)
);
--> statement-breakpoint
INSERT INTO `__new_task_queues`("tenant", "name", "paused", "pause_updated_at") SELECT 'default', "name", "paused", "pause_updated_at" FROM `task_queues`;--> statement-breakpoint
DROP TABLE `task_queues`;--> statement-breakpoint
ALTER TABLE `__new_task_queues` RENAME TO `task_queues`;