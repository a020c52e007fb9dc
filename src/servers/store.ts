import type { Database as Sqlite } from "bun:sqlite";
import { intColumns, pgCode, type PgTx, type Tx } from "../db/dialect.ts";
import { done, step, type Op } from "../db/op.ts";
import type { Algorithm, LoadReport, Maintenance, ReportedHealth, ServerEntry, ServerKind, ServerStatus } from "./types.ts";

/** A `servers` row as both dialects return it (int8 columns converted on PostgreSQL). */
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

/** What a heartbeat batch writes for one server. */
export interface HeartbeatRow {
  tenant: string;
  id: string;
  time: number;
  health: ReportedHealth | null;
  load: string | null;
}

export const heartbeatRow = (e: ServerEntry): HeartbeatRow => ({
  tenant: e.tenant,
  id: e.id,
  time: e.lastHeartbeatTime ?? 0,
  health: e.reportedHealth ?? null,
  load: e.lastLoad ? JSON.stringify(e.lastLoad) : null,
});

/** A status change as the log holds it. */
export interface StatusPoint {
  time: number;
  status: ServerStatus;
}

/**
 * All SQL of the servers domain, once per dialect, behind one interface of operations. Every
 * statement but the fleet-wide loads is scoped by tenant.
 */
export interface ServerStore {
  /** Every entry of every tenant (the registry keeps them in memory). */
  loadAll(tx: Tx): Op<ServerEntry[]>;
  /** Every entry of one tenant. */
  listTenant(tx: Tx, tenant: string): Op<ServerEntry[]>;
  find(tx: Tx, tenant: string, id: string): Op<ServerEntry | undefined>;
  findByName(tx: Tx, tenant: string, name: string): Op<ServerEntry | undefined>;
  findByRequestId(tx: Tx, tenant: string, requestId: string): Op<ServerEntry | undefined>;
  /** Inserts or updates the whole entry (not its tenant). */
  save(tx: Tx, e: ServerEntry): Op<void>;
  /**
   * Writes heartbeats; answers the stored heartbeat of every server that exists (a server
   * removed meanwhile is not among them). On PostgreSQL an older heartbeat never overwrites a
   * newer one another instance wrote: the answer is then the newer one.
   */
  saveHeartbeats(tx: Tx, rows: HeartbeatRow[]): Op<Map<string, HeartbeatRow>>;
  /** Rows changed (0 when the server is gone). */
  saveMaintenance(tx: Tx, e: ServerEntry): Op<number>;
  remove(tx: Tx, tenant: string, id: string): Op<number>;
  algorithm(tx: Tx, tenant: string): Op<{ algorithm: Algorithm; updatedAt: number } | undefined>;
  /** The algorithm of every tenant that set one. */
  algorithms(tx: Tx): Op<Map<string, { algorithm: Algorithm; updatedAt: number }>>;
  setAlgorithm(tx: Tx, tenant: string, algorithm: Algorithm, now: number): Op<void>;
  /**
   * Logs derived status changes. On PostgreSQL a change equal to the last one logged (by any
   * instance) is not logged again.
   */
  logStatus(tx: Tx, changes: { tenant: string; id: string; status: ServerStatus }[], time: number): Op<void>;
  /** Status changes of a server in [start, end), preceded by the one in force at start. */
  statusChanges(tx: Tx, tenant: string, id: string, start: number, end: number): Op<StatusPoint[]>;
  /** Takes the fleet-wide lock `key` for the rest of the transaction; false when another instance holds it (SQLite: always true). */
  tryLock(tx: Tx, key: number): Op<boolean>;
}

/**
 * Health-check state shared by several instances (PostgreSQL only: on SQLite one process holds
 * it in memory). One row per backend: its state (JSON) and when its next probe is due.
 */
export interface SharedHealthStore {
  /**
   * Claims the backends with a health endpoint whose probe is due at `now` (at most `limit`),
   * moving their next probe `intervalMs` later; rows another instance is claiming are skipped.
   */
  claimDueProbes(tx: Tx, now: number, intervalMs: number, limit: number): Op<{ tenant: string; id: string; state: string | null }[]>;
  /** A backend's stored state, its row locked for the rest of the transaction (created when missing). */
  lockHealth(tx: Tx, tenant: string, id: string): Op<string | null>;
  /** Stores a state; after a probe, `nextCheckAt` puts the next one no earlier than then. */
  saveHealth(tx: Tx, tenant: string, id: string, state: string, nextCheckAt?: number): Op<void>;
  /** Every stored state by server id. */
  loadHealth(tx: Tx): Op<Map<string, string>>;
}

/** Whether `error` is a unique-constraint violation (two instances registering one name). */
export const isUniqueViolation = (error: unknown): boolean => pgCode(error) === "23505" || /UNIQUE constraint failed/.test(String((error as Error)?.message));

const COLUMNS = `id, tenant, name, kind, endpoints, api_key, max_concurrent, capabilities, groups, priority, weight,
      labels, queues, register_time, update_time, request_id, last_heartbeat_time, reported_health, last_load, maintenance`;

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

/** The SQLite store: prepared statements on the one connection; writes run inside the committer's transaction. */
export function createSqliteServerStore(sqlite: Sqlite): ServerStore {
  const upsert = sqlite.prepare(`INSERT INTO servers (${COLUMNS})
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)
    ON CONFLICT(id) DO UPDATE SET name = ?3, kind = ?4, endpoints = ?5, api_key = ?6, max_concurrent = ?7, capabilities = ?8, groups = ?9,
      priority = ?10, weight = ?11, labels = ?12, queues = ?13, update_time = ?15, request_id = ?16, last_heartbeat_time = ?17,
      reported_health = ?18, last_load = ?19, maintenance = ?20 WHERE tenant = ?2`);
  const heartbeat = sqlite.prepare(`UPDATE servers SET last_heartbeat_time = ?3, reported_health = ?4, last_load = ?5 WHERE tenant = ?1 AND id = ?2`);
  const maintenance = sqlite.prepare(`UPDATE servers SET maintenance = ?3, update_time = ?4 WHERE tenant = ?1 AND id = ?2`);
  const remove = sqlite.prepare(`DELETE FROM servers WHERE tenant = ? AND id = ?`);
  const all = sqlite.prepare(`SELECT * FROM servers`);
  const ofTenant = sqlite.prepare(`SELECT * FROM servers WHERE tenant = ?`);
  const byId = sqlite.prepare(`SELECT * FROM servers WHERE tenant = ? AND id = ?`);
  const byName = sqlite.prepare(`SELECT * FROM servers WHERE tenant = ? AND name = ?`);
  const byRequest = sqlite.prepare(`SELECT * FROM servers WHERE tenant = ? AND request_id = ? LIMIT 1`);
  const getAlgorithm = sqlite.prepare(`SELECT algorithm, updated_at FROM server_settings WHERE tenant = ?`);
  const allAlgorithms = sqlite.prepare(`SELECT tenant, algorithm, updated_at FROM server_settings`);
  const setAlgorithm = sqlite.prepare(`INSERT INTO server_settings (tenant, algorithm, updated_at) VALUES (?1, ?2, ?3)
    ON CONFLICT(tenant) DO UPDATE SET algorithm = ?2, updated_at = ?3`);
  const logStatus = sqlite.prepare(`INSERT OR REPLACE INTO server_status_log (server_id, time, tenant, status) VALUES (?, ?, ?, ?)`);
  const statusLog = sqlite.prepare(`SELECT time, status FROM server_status_log WHERE tenant = ? AND server_id = ? AND time < ?
    AND time >= coalesce((SELECT max(time) FROM server_status_log WHERE tenant = ? AND server_id = ? AND time <= ?), 0) ORDER BY time`);
  const lastBefore = sqlite.prepare(`SELECT time, status FROM server_status_log WHERE tenant = ? AND server_id = ? AND time <= ? ORDER BY time DESC LIMIT 1`);
  const one = (r: unknown) => (r ? rowToEntry(r as ServerRow) : undefined);

  return {
    loadAll: () => done((all.all() as ServerRow[]).map(rowToEntry)),
    listTenant: (_tx, tenant) => done((ofTenant.all(tenant) as ServerRow[]).map(rowToEntry)),
    find: (_tx, tenant, id) => done(one(byId.get(tenant, id))),
    findByName: (_tx, tenant, name) => done(one(byName.get(tenant, name))),
    findByRequestId: (_tx, tenant, requestId) => done(one(byRequest.get(tenant, requestId))),
    save(_tx, e) {
      upsert.run(...toRow(e));
      return done(undefined);
    },
    saveHeartbeats(_tx, rows) {
      const found = new Map<string, HeartbeatRow>();
      for (const r of rows) if (heartbeat.run(r.tenant, r.id, r.time, r.health, r.load).changes > 0) found.set(r.id, r);
      return done(found);
    },
    saveMaintenance: (_tx, e) => done(maintenance.run(e.tenant, e.id, e.maintenance ? JSON.stringify(e.maintenance) : null, e.updateTime).changes),
    remove: (_tx, tenant, id) => done(remove.run(tenant, id).changes),
    algorithm(_tx, tenant) {
      const r = getAlgorithm.get(tenant) as { algorithm: Algorithm; updated_at: number } | null;
      return done(r ? { algorithm: r.algorithm, updatedAt: r.updated_at } : undefined);
    },
    algorithms() {
      const rows = allAlgorithms.all() as { tenant: string; algorithm: Algorithm; updated_at: number }[];
      return done(new Map(rows.map((r) => [r.tenant, { algorithm: r.algorithm, updatedAt: r.updated_at }])));
    },
    setAlgorithm(_tx, tenant, algorithm, now) {
      setAlgorithm.run(tenant, algorithm, now);
      return done(undefined);
    },
    logStatus(_tx, changes, time) {
      for (const c of changes) logStatus.run(c.id, time, c.tenant, c.status);
      return done(undefined);
    },
    statusChanges(_tx, tenant, id, start, end) {
      const before = lastBefore.get(tenant, id, start) as StatusPoint | null;
      const rows = (statusLog.all(tenant, id, end, tenant, id, start) as StatusPoint[]).filter((r) => r.time > start);
      return done(before ? [before, ...rows] : rows);
    },
    tryLock: () => done(true),
  };
}

const INTS = ["register_time", "update_time", "last_heartbeat_time"] as const;

/** The PostgreSQL store: the same statements over `tx.sql` (the group's connection, or the pool for reads). */
export function createPgServerStore(): ServerStore {
  const pg = (tx: Tx) => (tx as PgTx).sql;
  const entries = (rows: ServerRow[]) => intColumns(rows, INTS).map(rowToEntry);
  return {
    *loadAll(tx) {
      return entries(yield* step(pg(tx)<ServerRow[]>`SELECT * FROM servers`));
    },
    *listTenant(tx, tenant) {
      return entries(yield* step(pg(tx)<ServerRow[]>`SELECT * FROM servers WHERE tenant = ${tenant}`));
    },
    *find(tx, tenant, id) {
      return entries(yield* step(pg(tx)<ServerRow[]>`SELECT * FROM servers WHERE tenant = ${tenant} AND id = ${id}`))[0];
    },
    *findByName(tx, tenant, name) {
      return entries(yield* step(pg(tx)<ServerRow[]>`SELECT * FROM servers WHERE tenant = ${tenant} AND name = ${name}`))[0];
    },
    *findByRequestId(tx, tenant, requestId) {
      return entries(yield* step(pg(tx)<ServerRow[]>`SELECT * FROM servers WHERE tenant = ${tenant} AND request_id = ${requestId} LIMIT 1`))[0];
    },
    *save(tx, e) {
      yield* step(
        pg(tx).unsafe(
          `INSERT INTO servers (${COLUMNS})
          VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)
          ON CONFLICT (id) DO UPDATE SET name = $3, kind = $4, endpoints = $5, api_key = $6, max_concurrent = $7, capabilities = $8, groups = $9,
            priority = $10, weight = $11, labels = $12, queues = $13, update_time = $15, request_id = $16, last_heartbeat_time = $17,
            reported_health = $18, last_load = $19, maintenance = $20 WHERE servers.tenant = $2`,
          [...toRow(e)],
        ),
      );
    },
    *saveHeartbeats(tx, rows) {
      if (rows.length === 0) return new Map<string, HeartbeatRow>();
      // One statement for the batch, in id order (two instances' batches lock rows in the same order).
      const sorted = [...rows].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      const updated = (yield* step(
        pg(tx).unsafe(
          `UPDATE servers s SET
             last_heartbeat_time = CASE WHEN s.last_heartbeat_time IS NULL OR s.last_heartbeat_time <= x.t THEN x.t ELSE s.last_heartbeat_time END,
             reported_health = CASE WHEN s.last_heartbeat_time IS NULL OR s.last_heartbeat_time <= x.t THEN x.health ELSE s.reported_health END,
             last_load = CASE WHEN s.last_heartbeat_time IS NULL OR s.last_heartbeat_time <= x.t THEN x.load ELSE s.last_load END
           FROM jsonb_to_recordset($1::text::jsonb) AS x(tenant text, id text, t bigint, health text, load text)
           WHERE s.tenant = x.tenant AND s.id = x.id
           RETURNING s.tenant, s.id, s.last_heartbeat_time AS time, s.reported_health AS health, s.last_load AS load`,
          [JSON.stringify(sorted.map((r) => ({ tenant: r.tenant, id: r.id, t: r.time, health: r.health, load: r.load })))],
        ),
      )) as HeartbeatRow[];
      return new Map(intColumns(updated, ["time"]).map((r) => [r.id, r]));
    },
    *saveMaintenance(tx, e) {
      const rows = (yield* step(
        pg(tx)`UPDATE servers SET maintenance = ${e.maintenance ? JSON.stringify(e.maintenance) : null}, update_time = ${e.updateTime}
          WHERE tenant = ${e.tenant} AND id = ${e.id} RETURNING id`,
      )) as unknown[];
      return rows.length;
    },
    *remove(tx, tenant, id) {
      yield* step(pg(tx)`DELETE FROM server_health WHERE tenant = ${tenant} AND server_id = ${id}`);
      return ((yield* step(pg(tx)`DELETE FROM servers WHERE tenant = ${tenant} AND id = ${id} RETURNING id`)) as unknown[]).length;
    },
    *algorithm(tx, tenant) {
      const rows = intColumns((yield* step(pg(tx)`SELECT algorithm, updated_at FROM server_settings WHERE tenant = ${tenant}`)) as { algorithm: Algorithm; updated_at: number }[], ["updated_at"]);
      return rows[0] ? { algorithm: rows[0].algorithm, updatedAt: rows[0].updated_at } : undefined;
    },
    *algorithms(tx) {
      const rows = intColumns((yield* step(pg(tx)`SELECT tenant, algorithm, updated_at FROM server_settings`)) as { tenant: string; algorithm: Algorithm; updated_at: number }[], ["updated_at"]);
      return new Map(rows.map((r) => [r.tenant, { algorithm: r.algorithm, updatedAt: r.updated_at }]));
    },
    *setAlgorithm(tx, tenant, algorithm, now) {
      yield* step(pg(tx)`INSERT INTO server_settings (tenant, algorithm, updated_at) VALUES (${tenant}, ${algorithm}, ${now})
        ON CONFLICT (tenant) DO UPDATE SET algorithm = excluded.algorithm, updated_at = excluded.updated_at`);
    },
    *logStatus(tx, changes, time) {
      if (changes.length === 0) return;
      // Only what differs from the last status logged for the server (another instance may have logged it).
      yield* step(
        pg(tx).unsafe(
          `INSERT INTO server_status_log (server_id, time, tenant, status)
           SELECT x.id, $2, x.tenant, x.status FROM jsonb_to_recordset($1::text::jsonb) AS x(tenant text, id text, status text)
           WHERE (SELECT l.status FROM server_status_log l WHERE l.tenant = x.tenant AND l.server_id = x.id ORDER BY l.time DESC LIMIT 1) IS DISTINCT FROM x.status
           ON CONFLICT (server_id, time) DO UPDATE SET status = excluded.status, tenant = excluded.tenant`,
          [JSON.stringify(changes), time],
        ),
      );
    },
    *statusChanges(tx, tenant, id, start, end) {
      const before = intColumns(
        (yield* step(pg(tx)`SELECT time, status FROM server_status_log WHERE tenant = ${tenant} AND server_id = ${id} AND time <= ${start} ORDER BY time DESC LIMIT 1`)) as StatusPoint[],
        ["time"],
      )[0];
      const rows = intColumns(
        (yield* step(
          pg(tx)`SELECT time, status FROM server_status_log WHERE tenant = ${tenant} AND server_id = ${id} AND time > ${start} AND time < ${end} ORDER BY time`,
        )) as StatusPoint[],
        ["time"],
      );
      return before ? [before, ...rows] : rows;
    },
    *tryLock(tx, key) {
      const rows = (yield* step(pg(tx)`SELECT pg_try_advisory_xact_lock(${key}) AS ok`)) as { ok: boolean }[];
      return rows[0]?.ok === true;
    },
  };
}

/** The shared health state on PostgreSQL. */
export function createPgHealthStore(): SharedHealthStore {
  const pg = (tx: Tx) => (tx as PgTx).sql;
  return {
    *claimDueProbes(tx, now, intervalMs, limit) {
      // Backends registered with a health endpoint get their row (due at once) the first time.
      yield* step(pg(tx)`INSERT INTO server_health (server_id, tenant, next_check_at, state)
        SELECT id, tenant, 0, NULL FROM servers s WHERE kind = 'backend' AND (endpoints::jsonb ->> 'health') IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM server_health h WHERE h.server_id = s.id)
        ON CONFLICT (server_id) DO NOTHING`);
      return (yield* step(pg(tx)`UPDATE server_health h SET next_check_at = ${now + intervalMs}
        FROM (SELECT d.server_id FROM server_health d JOIN servers s ON s.id = d.server_id
              WHERE d.next_check_at <= ${now} AND (s.endpoints::jsonb ->> 'health') IS NOT NULL
              ORDER BY d.next_check_at LIMIT ${limit} FOR UPDATE OF d SKIP LOCKED) due
        WHERE h.server_id = due.server_id
        RETURNING h.tenant, h.server_id AS id, h.state`)) as { tenant: string; id: string; state: string | null }[];
    },
    *lockHealth(tx, tenant, id) {
      yield* step(pg(tx)`INSERT INTO server_health (server_id, tenant, next_check_at, state) VALUES (${id}, ${tenant}, 0, NULL) ON CONFLICT (server_id) DO NOTHING`);
      const rows = (yield* step(pg(tx)`SELECT state FROM server_health WHERE tenant = ${tenant} AND server_id = ${id} FOR UPDATE`)) as { state: string | null }[];
      return rows[0]?.state ?? null;
    },
    *saveHealth(tx, tenant, id, state, nextCheckAt) {
      yield* step(pg(tx)`UPDATE server_health SET state = ${state}, next_check_at = GREATEST(next_check_at, ${nextCheckAt ?? 0})
        WHERE tenant = ${tenant} AND server_id = ${id}`);
    },
    *loadHealth(tx) {
      const rows = (yield* step(pg(tx)`SELECT server_id, state FROM server_health WHERE state IS NOT NULL`)) as { server_id: string; state: string }[];
      return new Map(rows.map((r) => [r.server_id, r.state]));
    },
  };
}

/** The store of the database's dialect. */
export function createServerStore(database: { dialect: "sqlite" | "postgres"; sqlite?: Sqlite }): ServerStore {
  return database.dialect === "sqlite" ? createSqliteServerStore(database.sqlite!) : createPgServerStore();
}
