import type { Database as Sqlite } from "bun:sqlite";
import type { Algorithm, LoadReport, Maintenance, ReportedHealth, ServerEntry, ServerKind, ServerStatus } from "./types.ts";

/** A `servers` row as SQLite returns it. */
interface ServerRow {
  id: string;
  tenant: string;
  name: string;
  kind: string;
  endpoints: string;
  api_key: string | null;
  max_concurrent: number;
  capabilities: string;
  groups: string;
  priority: number;
  weight: number | null;
  labels: string;
  queues: string;
  register_time: number;
  update_time: number;
  request_id: string | null;
  last_heartbeat_time: number | null;
  reported_health: string | null;
  last_load: string | null;
  maintenance: string | null;
}

const freshHealth = () => ({
  lastResult: undefined,
  lastCheckTime: undefined,
  lastLatencyMs: 0,
  lastHttpStatus: 0,
  lastError: "",
  consecutiveFailures: 0,
  consecutiveSuccesses: 0,
  lastSuccessTime: undefined,
  ejected: false,
});

function rowToEntry(r: ServerRow): ServerEntry {
  return {
    id: r.id,
    tenant: r.tenant,
    name: r.name,
    kind: r.kind as ServerKind,
    endpoints: JSON.parse(r.endpoints),
    apiKeySealed: r.api_key ?? undefined,
    maxConcurrent: r.max_concurrent,
    capabilities: JSON.parse(r.capabilities),
    groups: JSON.parse(r.groups),
    priority: r.priority,
    weight: r.weight ?? undefined,
    labels: JSON.parse(r.labels),
    queues: JSON.parse(r.queues),
    registerTime: r.register_time,
    updateTime: r.update_time,
    requestId: r.request_id ?? undefined,
    lastHeartbeatTime: r.last_heartbeat_time ?? undefined,
    reportedHealth: (r.reported_health ?? undefined) as ReportedHealth | undefined,
    lastLoad: r.last_load ? (JSON.parse(r.last_load) as LoadReport) : undefined,
    maintenance: r.maintenance ? (JSON.parse(r.maintenance) as Maintenance) : undefined,
    health: freshHealth(),
  };
}

export { freshHealth };

/**
 * Every SQL statement of the servers domain. Writes are synchronous and meant to run inside a
 * committer transaction; reads run directly. Every statement is scoped by tenant.
 */
export function createServerStore(sqlite: Sqlite) {
  const upsert = sqlite.prepare(`INSERT INTO servers (id, tenant, name, kind, endpoints, api_key, max_concurrent, capabilities, groups, priority, weight,
      labels, queues, register_time, update_time, request_id, last_heartbeat_time, reported_health, last_load, maintenance)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)
    ON CONFLICT(id) DO UPDATE SET name = ?3, kind = ?4, endpoints = ?5, api_key = ?6, max_concurrent = ?7, capabilities = ?8, groups = ?9,
      priority = ?10, weight = ?11, labels = ?12, queues = ?13, update_time = ?15, request_id = ?16, last_heartbeat_time = ?17,
      reported_health = ?18, last_load = ?19, maintenance = ?20 WHERE tenant = ?2`);
  const heartbeat = sqlite.prepare(`UPDATE servers SET last_heartbeat_time = ?3, reported_health = ?4, last_load = ?5 WHERE tenant = ?1 AND id = ?2`);
  const maintenance = sqlite.prepare(`UPDATE servers SET maintenance = ?3, update_time = ?4 WHERE tenant = ?1 AND id = ?2`);
  const remove = sqlite.prepare(`DELETE FROM servers WHERE tenant = ? AND id = ?`);
  const all = sqlite.prepare(`SELECT * FROM servers`);
  const getAlgorithm = sqlite.prepare(`SELECT algorithm, updated_at FROM server_settings WHERE tenant = ?`);
  const setAlgorithm = sqlite.prepare(`INSERT INTO server_settings (tenant, algorithm, updated_at) VALUES (?1, ?2, ?3)
    ON CONFLICT(tenant) DO UPDATE SET algorithm = ?2, updated_at = ?3`);
  const logStatus = sqlite.prepare(`INSERT OR REPLACE INTO server_status_log (server_id, time, tenant, status) VALUES (?, ?, ?, ?)`);
  const statusLog = sqlite.prepare(`SELECT time, status FROM server_status_log WHERE tenant = ? AND server_id = ? AND time < ?
    AND time >= coalesce((SELECT max(time) FROM server_status_log WHERE tenant = ? AND server_id = ? AND time <= ?), 0) ORDER BY time`);
  const lastBefore = sqlite.prepare(`SELECT time, status FROM server_status_log WHERE tenant = ? AND server_id = ? AND time <= ? ORDER BY time DESC LIMIT 1`);

  const toRow = (e: ServerEntry) =>
    [
      e.id,
      e.tenant,
      e.name,
      e.kind,
      JSON.stringify(e.endpoints),
      e.apiKeySealed ?? null,
      e.maxConcurrent,
      JSON.stringify(e.capabilities),
      JSON.stringify(e.groups),
      e.priority,
      e.weight ?? null,
      JSON.stringify(e.labels),
      JSON.stringify(e.queues),
      e.registerTime,
      e.updateTime,
      e.requestId ?? null,
      e.lastHeartbeatTime ?? null,
      e.reportedHealth ?? null,
      e.lastLoad ? JSON.stringify(e.lastLoad) : null,
      e.maintenance ? JSON.stringify(e.maintenance) : null,
    ] as const;

  return {
    /** Every entry of every tenant (the registry keeps them in memory). */
    loadAll: (): ServerEntry[] => (all.all() as ServerRow[]).map(rowToEntry),
    save: (e: ServerEntry) => void upsert.run(...toRow(e)),
    saveHeartbeat: (e: ServerEntry) =>
      void heartbeat.run(e.tenant, e.id, e.lastHeartbeatTime ?? null, e.reportedHealth ?? null, e.lastLoad ? JSON.stringify(e.lastLoad) : null),
    saveMaintenance: (e: ServerEntry) => void maintenance.run(e.tenant, e.id, e.maintenance ? JSON.stringify(e.maintenance) : null, e.updateTime),
    remove: (tenant: string, id: string) => void remove.run(tenant, id),
    algorithm(tenant: string): { algorithm: Algorithm; updatedAt: number } | undefined {
      const r = getAlgorithm.get(tenant) as { algorithm: Algorithm; updated_at: number } | null;
      return r ? { algorithm: r.algorithm, updatedAt: r.updated_at } : undefined;
    },
    setAlgorithm: (tenant: string, algorithm: Algorithm, now: number) => void setAlgorithm.run(tenant, algorithm, now),
    logStatus: (tenant: string, id: string, time: number, status: ServerStatus) => void logStatus.run(id, time, tenant, status),
    /** Status changes of a server in [start, end), preceded by the one in force at start. */
    statusChanges(tenant: string, id: string, start: number, end: number): { time: number; status: ServerStatus }[] {
      const before = lastBefore.get(tenant, id, start) as { time: number; status: ServerStatus } | null;
      const rows = (statusLog.all(tenant, id, end, tenant, id, start) as { time: number; status: ServerStatus }[]).filter((r) => r.time > start);
      return before ? [before, ...rows] : rows;
    },
  };
}

export type ServerStore = ReturnType<typeof createServerStore>;
