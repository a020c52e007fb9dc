import { bigint, integer, pgTable, text } from "drizzle-orm/pg-core";

/** PostgreSQL twin of schema.ts (same table, same columns). */
export const settings = pgTable("system_settings", {
  name: text("name").primaryKey(),
  value: text("value").notNull(),
  updatedAt: bigint("updated_at", { mode: "number" }).notNull(),
  version: integer("version").notNull(),
});
