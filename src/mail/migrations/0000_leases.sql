CREATE TABLE `mail_counters` (
	`name` text PRIMARY KEY NOT NULL,
	`value` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `mail_leases` (
	`path` text PRIMARY KEY NOT NULL,
	`holder` text NOT NULL,
	`token` integer NOT NULL,
	`ttl_ms` integer NOT NULL,
	`acquired_at` integer NOT NULL,
	`expires_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `mail_leases_expires` ON `mail_leases` (`expires_at`);--> statement-breakpoint
CREATE INDEX `mail_leases_holder` ON `mail_leases` (`holder`,`path`);