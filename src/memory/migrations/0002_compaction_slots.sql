CREATE TABLE `memory_compaction_slots` (
	`tenant` text PRIMARY KEY NOT NULL,
	`task_id` text NOT NULL,
	`updated_at` integer NOT NULL
);
