PRAGMA foreign_keys=OFF;--> statement-breakpoint
CREATE TABLE `__new_mail_leases` (
	`tenant` text DEFAULT 'default' NOT NULL,
	`path` text NOT NULL,
	`holder` text NOT NULL,
	`token` integer NOT NULL,
	`ttl_ms` integer NOT NULL,
	`acquired_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	PRIMARY KEY(`tenant`, `path`)
);
--> statement-breakpoint
INSERT INTO `__new_mail_leases`("tenant", "path", "holder", "token", "ttl_ms", "acquired_at", "expires_at") SELECT 'default', "path", "holder", "token", "ttl_ms", "acquired_at", "expires_at" FROM `mail_leases`;--> statement-breakpoint
DROP TABLE `mail_leases`;--> statement-breakpoint
ALTER TABLE `__new_mail_leases` RENAME TO `mail_leases`;--> statement-breakpoint
PRAGMA foreign_keys=ON;--> statement-breakpoint
CREATE INDEX `mail_leases_expires` ON `mail_leases` (`expires_at`);--> statement-breakpoint
CREATE INDEX `mail_leases_holder` ON `mail_leases` (`tenant`,`holder`,`path`);