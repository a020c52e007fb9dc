import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

/**
 * People who sign in (Google or another OIDC issuer). A user is found again by issuer and
 * subject; email, name and picture follow the identity provider at each sign-in.
 */
export const authUsers = sqliteTable(
  "auth_users",
  {
    id: text("id").primaryKey(),
    tenant: text("tenant").notNull(),
    issuer: text("issuer").notNull(),
    subject: text("subject").notNull(),
    email: text("email").notNull().default(""),
    name: text("name").notNull().default(""),
    picture: text("picture").notNull().default(""),
    /** JSON array of role names. */
    roles: text("roles").notNull().default("[]"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [uniqueIndex("auth_users_identity").on(t.issuer, t.subject), index("auth_users_tenant").on(t.tenant, t.id)],
);

/** Sessions opened by sign-in or the device flow. Only the SHA-256 of the token is stored. */
export const authSessions = sqliteTable(
  "auth_sessions",
  {
    id: text("id").primaryKey(),
    tokenHash: text("token_hash").notNull(),
    tenant: text("tenant").notNull(),
    userId: text("user_id").notNull(),
    /** JSON array of the roles the session carries. */
    roles: text("roles").notNull().default("[]"),
    /** `google` or `device`. */
    method: text("method").notNull(),
    createdAt: integer("created_at").notNull(),
    expiresAt: integer("expires_at").notNull(),
    revokedAt: integer("revoked_at"),
  },
  (t) => [uniqueIndex("auth_sessions_token").on(t.tokenHash), index("auth_sessions_user").on(t.tenant, t.userId, t.createdAt)],
);

/** RFC 8628 device authorizations; the device code is stored only as a hash. */
export const authDeviceCodes = sqliteTable(
  "auth_device_codes",
  {
    deviceCodeHash: text("device_code_hash").primaryKey(),
    /** Normalized: 8 letters, no dash. */
    userCode: text("user_code").notNull(),
    /** pending | authorized | denied | exchanged */
    status: text("status").notNull(),
    /** Set when authorized: who, in which tenant, with which roles. */
    tenant: text("tenant"),
    userId: text("user_id"),
    roles: text("roles"),
    intervalS: integer("interval_s").notNull(),
    lastPollAt: integer("last_poll_at"),
    createdAt: integer("created_at").notNull(),
    expiresAt: integer("expires_at").notNull(),
  },
  (t) => [uniqueIndex("auth_device_codes_user_code").on(t.userCode), index("auth_device_codes_expires").on(t.expiresAt)],
);

/** LLM provider API keys of a user, sealed with the server's SecretBox (AES-256-GCM). */
export const authApiKeys = sqliteTable(
  "auth_api_keys",
  {
    id: text("id").primaryKey(),
    tenant: text("tenant").notNull(),
    userId: text("user_id").notNull(),
    provider: text("provider").notNull(),
    keyName: text("key_name").notNull(),
    /** `v1:<key id>:<nonce>:<ciphertext>` from SecretBox.seal. */
    sealed: text("sealed").notNull(),
    /** What lists show: all but the last 4 characters masked. */
    masked: text("masked").notNull(),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [uniqueIndex("auth_api_keys_user_provider").on(t.tenant, t.userId, t.provider)],
);
