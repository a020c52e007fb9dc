CREATE TABLE "mail_counters" (
	"name" text PRIMARY KEY NOT NULL,
	"value" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "mail_leases" (
	"tenant" text DEFAULT 'default' NOT NULL,
	"path" text COLLATE "C" NOT NULL,
	"holder" text NOT NULL,
	"token" bigint NOT NULL,
	"ttl_ms" integer NOT NULL,
	"acquired_at" bigint NOT NULL,
	"expires_at" bigint NOT NULL,
	CONSTRAINT "mail_leases_tenant_path_pk" PRIMARY KEY("tenant","path")
);
--> statement-breakpoint
CREATE INDEX "mail_leases_expires" ON "mail_leases" USING btree ("expires_at");--> statement-breakpoint
CREATE INDEX "mail_leases_holder" ON "mail_leases" USING btree ("tenant","holder","path");