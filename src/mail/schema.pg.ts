import { bigint, customType, index, integer, pgTable, primaryKey, text } from "drizzle-orm/pg-core";

/** Text compared and ordered byte-wise, as SQLite does (paths page in the same order on both). */
const binaryText = customType<{ data: string }>({
  dataType: () => 'text COLLATE "C"',
});

/** PostgreSQL twin of schema.ts (same tables, same columns). */
export const mailLeases = pgTable(
  "mail_leases",
  {
    tenant: text("tenant").notNull().default("default"),
    path: binaryText("path").notNull(),
    holder: text("holder").notNull(),
    token: bigint("token", { mode: "number" }).notNull(),
    ttlMs: integer("ttl_ms").notNull(),
    acquiredAt: bigint("acquired_at", { mode: "number" }).notNull(),
    expiresAt: bigint("expires_at", { mode: "number" }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.tenant, t.path] }),
    index("mail_leases_expires").on(t.expiresAt),
    index("mail_leases_holder").on(t.tenant, t.holder, t.path),
  ],
);

export const mailCounters = pgTable("mail_counters", {
  name: text("name").primaryKey(),
  value: bigint("value", { mode: "number" }).notNull(),
});
