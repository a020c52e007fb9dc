ALTER TABLE `ins_schedules` ADD `claimed_tick` integer;--> statement-breakpoint
ALTER TABLE `ins_schedules` ADD `claimed_until` integer;