import { bigint, index, integer, pgTable, text, uniqueIndex } from "drizzle-orm/pg-core";

/** PostgreSQL twins of schema.ts (same tables, columns and indexes; ms timestamps as int8). */
export const authUsers = pgTable(
  "auth_users",
  {
    id: text("id").primaryKey(),
    tenant: text("tenant").notNull(),
    issuer: text("issuer").notNull(),
    subject: text("subject").notNull(),
    email: text("email").notNull().default(""),
    name: text("name").notNull().default(""),
    picture: text("picture").notNull().default(""),
    roles: text("roles").notNull().default("[]"),
    createdAt: bigint("created_at", { mode: "number" }).notNull(),
    updatedAt: bigint("updated_at", { mode: "number" }).notNull(),
  },
  (t) => [uniqueIndex("auth_users_identity").on(t.issuer, t.subject), index("auth_users_tenant").on(t.tenant, t.id)],
);

export const authSessions = pgTable(
  "auth_sessions",
  {
    id: text("id").primaryKey(),
    tokenHash: text("token_hash").notNull(),
    tenant: text("tenant").notNull(),
    userId: text("user_id").notNull(),
    roles: text("roles").notNull().default("[]"),
    method: text("method").notNull(),
    createdAt: bigint("created_at", { mode: "number" }).notNull(),
    expiresAt: bigint("expires_at", { mode: "number" }).notNull(),
    revokedAt: bigint("revoked_at", { mode: "number" }),
  },
  (t) => [uniqueIndex("auth_sessions_token").on(t.tokenHash), index("auth_sessions_user").on(t.tenant, t.userId, t.createdAt)],
);

export const authDeviceCodes = pgTable(
  "auth_device_codes",
  {
    deviceCodeHash: text("device_code_hash").primaryKey(),
    userCode: text("user_code").notNull(),
    status: text("status").notNull(),
    tenant: text("tenant"),
    userId: text("user_id"),
    roles: text("roles"),
    intervalS: integer("interval_s").notNull(),
    lastPollAt: bigint("last_poll_at", { mode: "number" }),
    createdAt: bigint("created_at", { mode: "number" }).notNull(),
    expiresAt: bigint("expires_at", { mode: "number" }).notNull(),
  },
  (t) => [uniqueIndex("auth_device_codes_user_code").on(t.userCode), index("auth_device_codes_expires").on(t.expiresAt)],
);

export const authApiKeys = pgTable(
  "auth_api_keys",
  {
    id: text("id").primaryKey(),
    tenant: text("tenant").notNull(),
    userId: text("user_id").notNull(),
    provider: text("provider").notNull(),
    keyName: text("key_name").notNull(),
    sealed: text("sealed").notNull(),
    masked: text("masked").notNull(),
    createdAt: bigint("created_at", { mode: "number" }).notNull(),
    updatedAt: bigint("updated_at", { mode: "number" }).notNull(),
  },
  (t) => [uniqueIndex("auth_api_keys_user_provider").on(t.tenant, t.userId, t.provider)],
);

/**
 * Wrong user codes per caller (the device flow's brute-force limit), shared by every instance:
 * rate-limiter-flexible's RateLimiterPostgres table (its own columns: key, points, expire in ms).
 */
export const authCodeAttempts = pgTable("auth_code_attempts", {
  key: text("key").primaryKey(),
  points: integer("points").notNull().default(0),
  expire: bigint("expire", { mode: "number" }),
});
