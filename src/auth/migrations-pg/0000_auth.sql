CREATE TABLE "auth_api_keys" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant" text NOT NULL,
	"user_id" text NOT NULL,
	"provider" text NOT NULL,
	"key_name" text NOT NULL,
	"sealed" text NOT NULL,
	"masked" text NOT NULL,
	"created_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "auth_code_attempts" (
	"key" text PRIMARY KEY NOT NULL,
	"points" integer DEFAULT 0 NOT NULL,
	"expire" bigint
);
--> statement-breakpoint
CREATE TABLE "auth_device_codes" (
	"device_code_hash" text PRIMARY KEY NOT NULL,
	"user_code" text NOT NULL,
	"status" text NOT NULL,
	"tenant" text,
	"user_id" text,
	"roles" text,
	"interval_s" integer NOT NULL,
	"last_poll_at" bigint,
	"created_at" bigint NOT NULL,
	"expires_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "auth_sessions" (
	"id" text PRIMARY KEY NOT NULL,
	"token_hash" text NOT NULL,
	"tenant" text NOT NULL,
	"user_id" text NOT NULL,
	"roles" text DEFAULT '[]' NOT NULL,
	"method" text NOT NULL,
	"created_at" bigint NOT NULL,
	"expires_at" bigint NOT NULL,
	"revoked_at" bigint
);
--> statement-breakpoint
CREATE TABLE "auth_users" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant" text NOT NULL,
	"issuer" text NOT NULL,
	"subject" text NOT NULL,
	"email" text DEFAULT '' NOT NULL,
	"name" text DEFAULT '' NOT NULL,
	"picture" text DEFAULT '' NOT NULL,
	"roles" text DEFAULT '[]' NOT NULL,
	"created_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX "auth_api_keys_user_provider" ON "auth_api_keys" USING btree ("tenant","user_id","provider");--> statement-breakpoint
CREATE UNIQUE INDEX "auth_device_codes_user_code" ON "auth_device_codes" USING btree ("user_code");--> statement-breakpoint
CREATE INDEX "auth_device_codes_expires" ON "auth_device_codes" USING btree ("expires_at");--> statement-breakpoint
CREATE UNIQUE INDEX "auth_sessions_token" ON "auth_sessions" USING btree ("token_hash");--> statement-breakpoint
CREATE INDEX "auth_sessions_user" ON "auth_sessions" USING btree ("tenant","user_id","created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "auth_users_identity" ON "auth_users" USING btree ("issuer","subject");--> statement-breakpoint
CREATE INDEX "auth_users_tenant" ON "auth_users" USING btree ("tenant","id");