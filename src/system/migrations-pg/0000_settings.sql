CREATE TABLE "system_settings" (
	"name" text PRIMARY KEY NOT NULL,
	"value" text NOT NULL,
	"updated_at" bigint NOT NULL,
	"version" integer NOT NULL
);
