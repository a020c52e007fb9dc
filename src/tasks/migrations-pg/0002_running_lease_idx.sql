DROP INDEX "tasks_state_lease_idx";--> statement-breakpoint
DROP INDEX "tasks_state_deadline_idx";--> statement-breakpoint
CREATE INDEX "tasks_running_lease_idx" ON "tasks" USING btree ("lease_expires_at") WHERE "tasks"."state" = 3;--> statement-breakpoint
CREATE INDEX "tasks_running_deadline_idx" ON "tasks" USING btree ("deadline_at") WHERE "tasks"."state" = 3;