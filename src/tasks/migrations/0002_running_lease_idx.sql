DROP INDEX `tasks_state_lease_idx`;--> statement-breakpoint
CREATE INDEX `tasks_running_lease_idx` ON `tasks` (`lease_expires_at`) WHERE "tasks"."state" = 3;