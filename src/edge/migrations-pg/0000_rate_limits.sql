CREATE TABLE "edge_rate_limits" (
	"key" text PRIMARY KEY NOT NULL,
	"points" integer DEFAULT 0 NOT NULL,
	"expire" bigint
);
--> statement-breakpoint
CREATE INDEX "edge_rate_limits_expire" ON "edge_rate_limits" USING btree ("expire");