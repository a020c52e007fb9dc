CREATE TABLE `task_dependencies` (
	`task_id` text NOT NULL,
	`depends_on` text NOT NULL,
	PRIMARY KEY(`task_id`, `depends_on`)
);
--> statement-breakpoint
CREATE INDEX `task_dependencies_depends_on_idx` ON `task_dependencies` (`depends_on`);--> statement-breakpoint
CREATE TABLE `task_queue_configs` (
	`name` text PRIMARY KEY NOT NULL,
	`priority` integer DEFAULT 0 NOT NULL,
	`mode` integer DEFAULT 0 NOT NULL,
	`default_timeout_ms` integer,
	`default_max_attempts` integer DEFAULT 0 NOT NULL,
	`concurrency_limit` integer DEFAULT 0 NOT NULL,
	`deployment` text,
	`source` text NOT NULL,
	`request_id` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `task_queues` (
	`name` text PRIMARY KEY NOT NULL,
	`paused` integer DEFAULT 0 NOT NULL,
	`pause_updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `tasks` (
	`seq` integer PRIMARY KEY NOT NULL,
	`id` text NOT NULL,
	`queue` text NOT NULL,
	`type` text DEFAULT '' NOT NULL,
	`priority` integer DEFAULT 0 NOT NULL,
	`payload` text,
	`capabilities` text,
	`run_at` integer NOT NULL,
	`timeout_ms` integer,
	`max_attempts` integer NOT NULL,
	`attempt` integer DEFAULT 0 NOT NULL,
	`fencing_token` integer DEFAULT 0 NOT NULL,
	`depends_on` text,
	`has_dependents` integer DEFAULT 0 NOT NULL,
	`progress` integer DEFAULT 0 NOT NULL,
	`progress_message` text DEFAULT '' NOT NULL,
	`result` text,
	`error` text,
	`state` integer NOT NULL,
	`worker_id` text,
	`server_id` text,
	`lease_expires_at` integer,
	`lease_duration_ms` integer,
	`deadline_at` integer,
	`metadata` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`started_at` integer,
	`finished_at` integer,
	`request_id` text,
	`title` text DEFAULT '' NOT NULL,
	`description` text DEFAULT '' NOT NULL,
	`tags` text,
	`retry_count` integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `tasks_id_unique` ON `tasks` (`id`);--> statement-breakpoint
CREATE INDEX `tasks_claim_idx` ON `tasks` (`queue`,`state`,"priority" desc,`seq`);--> statement-breakpoint
CREATE INDEX `tasks_state_lease_idx` ON `tasks` (`state`,`lease_expires_at`);--> statement-breakpoint
CREATE INDEX `tasks_created_idx` ON `tasks` (`created_at`);--> statement-breakpoint
CREATE INDEX `tasks_finished_idx` ON `tasks` (`finished_at`) WHERE "tasks"."finished_at" is not null;--> statement-breakpoint
CREATE UNIQUE INDEX `tasks_request_id_unique` ON `tasks` (`request_id`) WHERE "tasks"."request_id" is not null;