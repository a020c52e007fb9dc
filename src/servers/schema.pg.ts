import { bigint, index, integer, pgTable, primaryKey, text, uniqueIndex } from "drizzle-orm/pg-core";

/**
 * PostgreSQL twin of schema.ts (same tables, same columns). Times are ms since the epoch
 * (int8); JSON columns hold text as on SQLite, so row mapping is shared.
 */
export const servers = pgTable(
  "servers",
  {
    id: text("id").primaryKey(),
    tenant: text("tenant").notNull(),
    name: text("name").notNull(),
    kind: text("kind").notNull(),
    endpoints: text("endpoints").notNull().default("{}"),
    apiKey: text("api_key"),
    maxConcurrent: integer("max_concurrent").notNull().default(1),
    capabilities: text("capabilities").notNull().default("[]"),
    groups: text("groups").notNull().default("[]"),
    priority: integer("priority").notNull().default(1),
    weight: integer("weight"),
    labels: text("labels").notNull().default("{}"),
    queues: text("queues").notNull().default("[]"),
    registerTime: bigint("register_time", { mode: "number" }).notNull(),
    updateTime: bigint("update_time", { mode: "number" }).notNull(),
    requestId: text("request_id"),
    lastHeartbeatTime: bigint("last_heartbeat_time", { mode: "number" }),
    reportedHealth: text("reported_health"),
    lastLoad: text("last_load"),
    maintenance: text("maintenance"),
  },
  (t) => [uniqueIndex("servers_tenant_name_unique").on(t.tenant, t.name), index("servers_tenant_request_idx").on(t.tenant, t.requestId)],
);

export const serverSettings = pgTable("server_settings", {
  tenant: text("tenant").primaryKey(),
  algorithm: text("algorithm").notNull(),
  updatedAt: bigint("updated_at", { mode: "number" }).notNull(),
});

export const serverStatusLog = pgTable(
  "server_status_log",
  {
    serverId: text("server_id").notNull(),
    time: bigint("time", { mode: "number" }).notNull(),
    tenant: text("tenant").notNull(),
    status: text("status").notNull(),
  },
  (t) => [primaryKey({ columns: [t.serverId, t.time] })],
);

/**
 * PostgreSQL only (several instances): each backend's health-check state (JSON: results,
 * consecutive counts, ejection) and when its next probe is due, so that the fleet probes a
 * backend once per interval and every instance sees the same ejections. On SQLite one process
 * keeps this state in memory.
 */
export const serverHealth = pgTable(
  "server_health",
  {
    serverId: text("server_id").primaryKey(),
    tenant: text("tenant").notNull(),
    nextCheckAt: bigint("next_check_at", { mode: "number" }).notNull(),
    state: text("state"),
  },
  (t) => [index("server_health_due_idx").on(t.nextCheckAt)],
);
