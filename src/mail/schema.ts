import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * Current file leases, one row per held path. A row whose `expires_at` has passed is no
 * longer a lease (expiry follows the server clock); the sweeper deletes it and publishes
 * the `leases.expired` event. Mail messages themselves live in the Bus's stream (MAIL).
 */
export const mailLeases = sqliteTable(
  "mail_leases",
  {
    /** Every lease belongs to a tenant; paths are per tenant. */
    tenant: text("tenant").notNull().default("default"),
    /** Normalized path (see paths.ts). */
    path: text("path").notNull(),
    holder: text("holder").notNull(),
    /** Fencing token, from the `lease_token` counter: strictly increasing over all grants. */
    token: integer("token").notNull(),
    /** TTL of the last acquire or renew, reused by a renew that names none. */
    ttlMs: integer("ttl_ms").notNull(),
    acquiredAt: integer("acquired_at").notNull(),
    expiresAt: integer("expires_at").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.tenant, t.path] }),
    index("mail_leases_expires").on(t.expiresAt),
    index("mail_leases_holder").on(t.tenant, t.holder, t.path),
  ],
);

/** Named counters of the mail domain (`lease_token`). */
export const mailCounters = sqliteTable("mail_counters", {
  name: text("name").primaryKey(),
  value: integer("value").notNull(),
});
