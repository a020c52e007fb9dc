import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

/**
 * Registered servers: HTTP backends (pushed to) and workers (pull). Times are milliseconds
 * since the epoch (server clock); JSON columns hold text. The API key is sealed by the secret
 * box. Health-check state lives in memory only (probed again after a restart).
 */
export const servers = sqliteTable(
  "servers",
  {
    id: text("id").primaryKey(),
    tenant: text("tenant").notNull(),
    name: text("name").notNull(),
    /** `backend` or `worker`. */
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
    registerTime: integer("register_time").notNull(),
    updateTime: integer("update_time").notNull(),
    requestId: text("request_id"),
    lastHeartbeatTime: integer("last_heartbeat_time"),
    /** `healthy`, `degraded`, `unhealthy` or NULL. */
    reportedHealth: text("reported_health"),
    /** JSON LoadReport of the last heartbeat. */
    lastLoad: text("last_load"),
    /** JSON { reason, startTime, setBy } while in maintenance. */
    maintenance: text("maintenance"),
  },
  (t) => [uniqueIndex("servers_tenant_name_unique").on(t.tenant, t.name), index("servers_tenant_request_idx").on(t.tenant, t.requestId)],
);

/** The load-balancing algorithm of each tenant that changed it. */
export const serverSettings = sqliteTable("server_settings", {
  tenant: text("tenant").primaryKey(),
  algorithm: text("algorithm").notNull(),
  updatedAt: integer("updated_at").notNull(),
});

/** Derived status changes of each server, for the uptime ratio of the daily statistics. */
export const serverStatusLog = sqliteTable(
  "server_status_log",
  {
    serverId: text("server_id").notNull(),
    time: integer("time").notNull(),
    tenant: text("tenant").notNull(),
    status: text("status").notNull(),
  },
  (t) => [primaryKey({ columns: [t.serverId, t.time] })],
);
