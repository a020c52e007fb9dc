import { sqliteTable, text, integer } from "drizzle-orm/sqlite-core";

/** Runtime settings (load-balancer algorithm, feature switches…), changed through SystemService. */
export const settings = sqliteTable("system_settings", {
  name: text("name").primaryKey(),
  /** JSON-encoded value. */
  value: text("value").notNull(),
  updatedAt: integer("updated_at").notNull(),
  /** Bumped on every write; an update may name the version it expects (optimistic concurrency). */
  version: integer("version").notNull(),
});
