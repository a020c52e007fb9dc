CREATE TABLE `bus_messages` (
	`stream` text NOT NULL,
	`seq` integer NOT NULL,
	`subject` text NOT NULL,
	`data` blob NOT NULL,
	`headers` text NOT NULL,
	`time` integer NOT NULL,
	`msg_id` text,
	PRIMARY KEY(`stream`, `seq`)
);
--> statement-breakpoint
CREATE INDEX `bus_messages_subject` ON `bus_messages` (`stream`,`subject`,`seq`);--> statement-breakpoint
CREATE INDEX `bus_messages_time` ON `bus_messages` (`stream`,`time`);--> statement-breakpoint
CREATE UNIQUE INDEX `bus_messages_msg_id` ON `bus_messages` (`stream`,`msg_id`) WHERE "bus_messages"."msg_id" is not null;--> statement-breakpoint
CREATE TABLE `bus_streams` (
	`name` text PRIMARY KEY NOT NULL,
	`last_seq` integer NOT NULL
);
