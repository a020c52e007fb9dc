import type { Database as Sqlite } from "bun:sqlite";
import type { ReservedSQL, SQL } from "bun";
import { intColumns, type PgTx, type Tx } from "../db/dialect.ts";
import { done, step, type Op } from "../db/op.ts";
import type { DriftReport, EnvVar, MergeRecord, ObjectKind, Project, ProjectEvent, Snapshot, Workspace } from "./types.ts";

export type Preview = { id: string; workspaceId: string; workspaceVersion: number; plan: string; expiresAt: number; executedAt: number | null; result: string | null };
export type SyncRecord = { id: string; preSnapshotId: string | null; preManifestHash: string | null; postSnapshotId: string; postVersion: number };

/**
 * All SQL of the workspace domain, once per dialect, behind one interface of operations
 * (`src/db/op.ts`): writes are called inside `database.write`, reads inside `database.read`.
 */
export interface WorkspaceStore {
  /** False when the request id was already used (PostgreSQL: another instance won the race). */
  insertProject(tx: Tx, p: Project, requestId: string | null): Op<boolean>;
  projectByRequest(tx: Tx, tenant: string, requestId: string): Op<Project | undefined>;
  getProject(tx: Tx, tenant: string, id: string): Op<Project | undefined>;
  /** The project, locked until the transaction ends (PostgreSQL `FOR UPDATE`; SQLite has one writer). */
  lockProject(tx: Tx, tenant: string, id: string): Op<Project | undefined>;
  listProjects(tx: Tx, tenant: string, limit: number, offset: number): Op<Project[]>;
  updateProject(tx: Tx, tenant: string, id: string, set: Partial<Pick<Project, "mainWorkspaceId" | "lastSnapshotId" | "intent" | "brief">>, now: number): Op<void>;

  insertWorkspace(tx: Tx, w: Workspace, requestId: string | null): Op<boolean>;
  workspaceByRequest(tx: Tx, tenant: string, requestId: string): Op<Workspace | undefined>;
  getWorkspace(tx: Tx, tenant: string, id: string): Op<Workspace | undefined>;
  /** The workspace, locked until the transaction ends (sync execute/undo across instances). */
  lockWorkspace(tx: Tx, tenant: string, id: string): Op<Workspace | undefined>;
  listWorkspaces(tx: Tx, tenant: string, projectId: string, limit: number, offset: number): Op<Workspace[]>;
  touchWorkspace(tx: Tx, tenant: string, id: string, now: number): Op<void>;
  /** Compare-and-set of the current manifest: only when it is null or equals `previous`. */
  casCurrentManifest(tx: Tx, tenant: string, id: string, hash: string, previous: string | null, now: number): Op<boolean>;
  /** Moves a workspace to a new content state when its version is still `expectedVersion`. */
  setWorkspaceState(tx: Tx, tenant: string, id: string, expectedVersion: number, set: { lastSnapshotId: string | null; currentManifestHash: string | null; mergeHistory?: Record<string, MergeRecord> }, now: number): Op<boolean>;
  setLastSnapshot(tx: Tx, tenant: string, id: string, snapshotId: string, now: number): Op<void>;

  /** False when a snapshot of that id exists already (PostgreSQL: committed meanwhile by another instance). */
  insertSnapshot(tx: Tx, s: Snapshot): Op<boolean>;
  getSnapshot(tx: Tx, tenant: string, id: string): Op<Snapshot | undefined>;
  listSnapshots(tx: Tx, tenant: string, by: { projectId?: string; workspaceId?: string }, limit: number, offset: number): Op<Snapshot[]>;
  /** id → parents of every snapshot of a project (the DAG). */
  projectDag(tx: Tx, tenant: string, projectId: string): Op<Map<string, { parents: string[]; createdAt: number }>>;
  countSnapshotsSince(tx: Tx, tenant: string, projectId: string, since: number): Op<number>;

  insertDrift(tx: Tx, tenant: string, d: DriftReport): Op<void>;
  listDrift(tx: Tx, tenant: string, workspaceId: string, limit: number, offset: number): Op<DriftReport[]>;

  insertEvent(tx: Tx, e: Omit<ProjectEvent, "seq">): Op<number>;
  listEvents(tx: Tx, tenant: string, projectId: string, limit: number, beforeSeq: number): Op<ProjectEvent[]>;
  eventsAfter(tx: Tx, tenant: string, projectId: string, afterSeq: number, limit: number): Op<ProjectEvent[]>;
  eventSeq(tx: Tx, tenant: string, id: string): Op<number | undefined>;
  lastEventAt(tx: Tx, tenant: string, projectId: string, type?: string): Op<number | undefined>;

  upsertEnvVar(tx: Tx, tenant: string, v: EnvVar): Op<void>;
  listEnvVars(tx: Tx, tenant: string, projectId: string): Op<EnvVar[]>;
  deleteEnvVar(tx: Tx, tenant: string, projectId: string, key: string): Op<boolean>;

  /**
   * Indexes a stored object; true when the row is new. On PostgreSQL an existing row's
   * `created_at` is moved to `now` (a re-upload restarts its GC grace) and the row stays locked
   * until the transaction ends, which is what orders an upload against another instance's GC.
   */
  insertObject(tx: Tx, tenant: string, kind: ObjectKind, hash: string, size: number, now: number): Op<boolean>;
  objectSize(tx: Tx, tenant: string, kind: ObjectKind, hash: string): Op<number | undefined>;
  existingObjects(tx: Tx, tenant: string, kind: ObjectKind, hashes: string[]): Op<Set<string>>;
  objectStats(tx: Tx, tenant: string, kind: ObjectKind): Op<{ count: number; bytes: number }>;
  /** Blobs after `afterHash` in hash order (a GC scan page). */
  scanObjects(tx: Tx, tenant: string, kind: ObjectKind, afterHash: string, limit: number): Op<{ hash: string; size: number; createdAt: number }[]>;
  manifestsCreatedSince(tx: Tx, tenant: string, since: number): Op<string[]>;
  /** Every manifest hash a snapshot or a workspace refers to. */
  referencedManifests(tx: Tx, tenant: string): Op<string[]>;
  deleteObject(tx: Tx, tenant: string, kind: ObjectKind, hash: string, createdBefore: number): Op<boolean>;
  /** Deletes the rows of `hashes` still older than `createdBefore`; answers the hashes deleted. */
  deleteObjects(tx: Tx, tenant: string, kind: ObjectKind, hashes: string[], createdBefore: number): Op<string[]>;
  /**
   * The tenant's GC lock across instances (PostgreSQL: a session advisory lock on a connection
   * of its own, tried, not waited for): its release, or undefined when another instance holds it.
   */
  gcLock(tx: Tx, tenant: string): Op<(() => Promise<void>) | undefined>;

  insertPreview(tx: Tx, tenant: string, p: { id: string; workspaceId: string; workspaceVersion: number; plan: string; expiresAt: number }): Op<void>;
  getPreview(tx: Tx, tenant: string, id: string): Op<Preview | undefined>;
  /** Records the execution and its result (JSON), once. */
  markPreviewExecuted(tx: Tx, tenant: string, id: string, now: number, result: string): Op<boolean>;
  deleteExpiredPreviews(tx: Tx, now: number): Op<number>;

  insertSync(tx: Tx, tenant: string, s: { id: string; workspaceId: string; previewId: string; preSnapshotId: string | null; preManifestHash: string | null; postSnapshotId: string; postVersion: number; createdAt: number }): Op<void>;
  lastSync(tx: Tx, tenant: string, workspaceId: string): Op<SyncRecord | undefined>;
  markSyncUndone(tx: Tx, tenant: string, id: string, now: number): Op<void>;
}

/** The store's methods as synchronous functions without the transaction (how SQLite answers). */
type SyncOf<S> = { [K in keyof S]: S[K] extends (tx: Tx, ...args: infer A) => Op<infer R> ? (...args: A) => R : never };

function lift(s: SyncOf<WorkspaceStore>): WorkspaceStore {
  const out: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(s)) out[name] = (_tx: Tx, ...args: unknown[]) => done((fn as (...a: unknown[]) => unknown)(...args));
  return out as unknown as WorkspaceStore;
}

type Row = Record<string, unknown>;

const json = <T>(text: string | null, fallback: T): T => (text ? (JSON.parse(text) as T) : fallback);

function projectOf(r: Record<string, unknown>): Project {
  return {
    tenant: r.tenant as string,
    id: r.id as string,
    userId: r.user_id as string,
    name: r.name as string,
    mainWorkspaceId: r.main_workspace_id as string | null,
    lastSnapshotId: r.last_snapshot_id as string | null,
    intent: r.intent as string,
    brief: r.brief as string,
    createdAt: r.created_at as number,
    updatedAt: r.updated_at as number,
  };
}

function workspaceOf(r: Record<string, unknown>): Workspace {
  return {
    tenant: r.tenant as string,
    id: r.id as string,
    projectId: r.project_id as string,
    createdBy: r.created_by as string,
    name: r.name as string,
    machineId: r.machine_id as string,
    localPath: r.local_path as string,
    baseSnapshotId: r.base_snapshot_id as string | null,
    lastSnapshotId: r.last_snapshot_id as string | null,
    currentManifestHash: r.current_manifest_hash as string | null,
    version: r.version as number,
    mergeHistory: json(r.merge_history as string | null, {}),
    lastSeenAt: r.last_seen_at as number | null,
    createdAt: r.created_at as number,
    updatedAt: r.updated_at as number,
  };
}

function snapshotOf(r: Record<string, unknown>): Snapshot {
  return {
    tenant: r.tenant as string,
    id: r.id as string,
    projectId: r.project_id as string,
    workspaceId: r.workspace_id as string | null,
    createdBy: r.created_by as string,
    manifestHash: r.manifest_hash as string,
    parents: json(r.parents as string, []),
    source: r.source as string,
    summary: r.summary as string,
    createdAt: r.created_at as number,
  };
}

const driftOf = (r: Record<string, unknown>): DriftReport => ({
  id: r.id as string,
  workspaceId: r.workspace_id as string,
  filesAdded: r.files_added as number,
  filesModified: r.files_modified as number,
  filesDeleted: r.files_deleted as number,
  bytesChanged: r.bytes_changed as number,
  summary: r.summary as string,
  createdAt: r.created_at as number,
});

const eventOf = (r: Record<string, unknown>): ProjectEvent => ({
  seq: r.seq as number,
  id: r.id as string,
  tenant: r.tenant as string,
  projectId: r.project_id as string,
  workspaceId: r.workspace_id as string,
  type: r.type as string,
  message: r.message as string,
  data: json(r.data as string, {}),
  createdAt: r.created_at as number,
});

const envOf = (r: Record<string, unknown>): EnvVar => ({
  id: r.id as string,
  projectId: r.project_id as string,
  key: r.key as string,
  value: r.value as string,
  isSecret: r.is_secret === 1,
  createdAt: r.created_at as number,
  updatedAt: r.updated_at as number,
});


/** The SQLite implementation: the statements as they were, answered synchronously. */
export function createSqliteWorkspaceStore(sqlite: Sqlite): WorkspaceStore {
  const all = (sql: string, ...args: unknown[]) => sqlite.query(sql).all(...(args as never[])) as Row[];
  const one = (sql: string, ...args: unknown[]) => (sqlite.query(sql).get(...(args as never[])) as Row | null) ?? undefined;
  const run = (sql: string, ...args: unknown[]) => sqlite.query(sql).run(...(args as never[]));

  const s: SyncOf<WorkspaceStore> = {
    insertProject(p, requestId) {
      run(
        `INSERT INTO ws_projects (tenant, id, user_id, name, main_workspace_id, last_snapshot_id, intent, brief, request_id, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)`,
        p.tenant, p.id, p.userId, p.name, p.mainWorkspaceId, p.lastSnapshotId, p.intent, p.brief, requestId, p.createdAt, p.updatedAt,
      );
      return true;
    },
    projectByRequest(tenant, requestId) {
      const r = one(`SELECT * FROM ws_projects WHERE tenant = ? AND request_id = ?`, tenant, requestId);
      return r && projectOf(r);
    },
    getProject(tenant, id) {
      const r = one(`SELECT * FROM ws_projects WHERE tenant = ? AND id = ?`, tenant, id);
      return r && projectOf(r);
    },
    lockProject(tenant, id) {
      // One writer: the group transaction already excludes every other write.
      return s.getProject(tenant, id);
    },
    listProjects(tenant, limit, offset) {
      return all(`SELECT * FROM ws_projects WHERE tenant = ? ORDER BY updated_at DESC, id DESC LIMIT ? OFFSET ?`, tenant, limit, offset).map(projectOf);
    },
    updateProject(tenant, id, set, now) {
      const cols: string[] = [];
      const vals: unknown[] = [];
      const map: Record<string, string> = { mainWorkspaceId: "main_workspace_id", lastSnapshotId: "last_snapshot_id", intent: "intent", brief: "brief" };
      for (const [k, v] of Object.entries(set)) {
        if (v === undefined) continue;
        cols.push(`${map[k]} = ?`);
        vals.push(v);
      }
      run(`UPDATE ws_projects SET ${[...cols, "updated_at = ?"].join(", ")} WHERE tenant = ? AND id = ?`, ...vals, now, tenant, id);
    },

    insertWorkspace(w, requestId) {
      run(
        `INSERT INTO ws_workspaces (tenant, id, project_id, created_by, name, machine_id, local_path, base_snapshot_id, last_snapshot_id, current_manifest_hash, version, merge_history, last_seen_at, request_id, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
        w.tenant, w.id, w.projectId, w.createdBy, w.name, w.machineId, w.localPath, w.baseSnapshotId, w.lastSnapshotId, w.currentManifestHash, w.version, JSON.stringify(w.mergeHistory), w.lastSeenAt, requestId, w.createdAt, w.updatedAt,
      );
      return true;
    },
    workspaceByRequest(tenant, requestId) {
      const r = one(`SELECT * FROM ws_workspaces WHERE tenant = ? AND request_id = ?`, tenant, requestId);
      return r && workspaceOf(r);
    },
    getWorkspace(tenant, id) {
      const r = one(`SELECT * FROM ws_workspaces WHERE tenant = ? AND id = ?`, tenant, id);
      return r && workspaceOf(r);
    },
    lockWorkspace(tenant, id) {
      return s.getWorkspace(tenant, id);
    },
    listWorkspaces(tenant, projectId, limit, offset) {
      return all(`SELECT * FROM ws_workspaces WHERE tenant = ? AND project_id = ? ORDER BY created_at, id LIMIT ? OFFSET ?`, tenant, projectId, limit, offset).map(workspaceOf);
    },
    touchWorkspace(tenant, id, now) {
      run(`UPDATE ws_workspaces SET last_seen_at = ? WHERE tenant = ? AND id = ?`, now, tenant, id);
    },
    casCurrentManifest(tenant, id, hash, previous, now) {
      const r = run(
        `UPDATE ws_workspaces SET current_manifest_hash = ?, last_seen_at = ?, updated_at = ?, version = version + 1
         WHERE tenant = ? AND id = ? AND (current_manifest_hash IS NULL OR current_manifest_hash = ? OR current_manifest_hash = ?)`,
        hash, now, now, tenant, id, previous, hash,
      );
      return r.changes > 0;
    },
    setWorkspaceState(tenant, id, expectedVersion, set, now) {
      const r = run(
        `UPDATE ws_workspaces SET last_snapshot_id = ?, current_manifest_hash = ?, merge_history = COALESCE(?, merge_history), version = version + 1, updated_at = ?
         WHERE tenant = ? AND id = ? AND version = ?`,
        set.lastSnapshotId, set.currentManifestHash, set.mergeHistory ? JSON.stringify(set.mergeHistory) : null, now, tenant, id, expectedVersion,
      );
      return r.changes > 0;
    },
    setLastSnapshot(tenant, id, snapshotId, now) {
      // A new snapshot moves the workspace's content: previews made before are stale.
      run(`UPDATE ws_workspaces SET last_snapshot_id = ?, updated_at = ?, version = version + 1 WHERE tenant = ? AND id = ?`, snapshotId, now, tenant, id);
    },

    insertSnapshot(s) {
      run(
        `INSERT INTO ws_snapshots (tenant, id, project_id, workspace_id, created_by, manifest_hash, parents, source, summary, created_at) VALUES (?,?,?,?,?,?,?,?,?,?)`,
        s.tenant, s.id, s.projectId, s.workspaceId, s.createdBy, s.manifestHash, JSON.stringify(s.parents), s.source, s.summary, s.createdAt,
      );
      return true;
    },
    getSnapshot(tenant, id) {
      const r = one(`SELECT * FROM ws_snapshots WHERE tenant = ? AND id = ?`, tenant, id);
      return r && snapshotOf(r);
    },
    listSnapshots(tenant, by, limit, offset) {
      const [col, val] = by.workspaceId !== undefined ? ["workspace_id", by.workspaceId] : ["project_id", by.projectId];
      return all(`SELECT * FROM ws_snapshots WHERE tenant = ? AND ${col} = ? ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?`, tenant, val, limit, offset).map(snapshotOf);
    },
    projectDag(tenant, projectId) {
      const out = new Map<string, { parents: string[]; createdAt: number }>();
      for (const r of all(`SELECT id, parents, created_at FROM ws_snapshots WHERE tenant = ? AND project_id = ?`, tenant, projectId)) {
        out.set(r.id as string, { parents: JSON.parse(r.parents as string) as string[], createdAt: r.created_at as number });
      }
      return out;
    },
    countSnapshotsSince(tenant, projectId, since) {
      return (one(`SELECT COUNT(*) AS n FROM ws_snapshots WHERE tenant = ? AND project_id = ? AND created_at > ?`, tenant, projectId, since)!.n as number);
    },

    insertDrift(tenant, d) {
      run(
        `INSERT INTO ws_drift_reports (tenant, id, workspace_id, files_added, files_modified, files_deleted, bytes_changed, summary, created_at) VALUES (?,?,?,?,?,?,?,?,?)`,
        tenant, d.id, d.workspaceId, d.filesAdded, d.filesModified, d.filesDeleted, d.bytesChanged, d.summary, d.createdAt,
      );
    },
    listDrift(tenant, workspaceId, limit, offset) {
      return all(`SELECT * FROM ws_drift_reports WHERE tenant = ? AND workspace_id = ? ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?`, tenant, workspaceId, limit, offset).map(driftOf);
    },

    insertEvent(e) {
      const r = run(
        `INSERT INTO ws_events (tenant, id, project_id, workspace_id, type, message, data, created_at) VALUES (?,?,?,?,?,?,?,?)`,
        e.tenant, e.id, e.projectId, e.workspaceId, e.type, e.message, JSON.stringify(e.data), e.createdAt,
      );
      return Number(r.lastInsertRowid);
    },
    listEvents(tenant, projectId, limit, beforeSeq) {
      return all(`SELECT * FROM ws_events WHERE tenant = ? AND project_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?`, tenant, projectId, beforeSeq, limit).map(eventOf);
    },
    eventsAfter(tenant, projectId, afterSeq, limit) {
      return all(`SELECT * FROM ws_events WHERE tenant = ? AND project_id = ? AND seq > ? ORDER BY seq LIMIT ?`, tenant, projectId, afterSeq, limit).map(eventOf);
    },
    eventSeq(tenant, id) {
      return one(`SELECT seq FROM ws_events WHERE tenant = ? AND id = ?`, tenant, id)?.seq as number | undefined;
    },
    lastEventAt(tenant, projectId, type) {
      const r = type
        ? one(`SELECT MAX(created_at) AS t FROM ws_events WHERE tenant = ? AND project_id = ? AND type = ?`, tenant, projectId, type)
        : one(`SELECT MAX(created_at) AS t FROM ws_events WHERE tenant = ? AND project_id = ?`, tenant, projectId);
      return (r?.t as number | null) ?? undefined;
    },

    upsertEnvVar(tenant, v) {
      run(
        `INSERT INTO ws_env_vars (tenant, id, project_id, key, value, is_secret, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?)
         ON CONFLICT (tenant, project_id, key) DO UPDATE SET value = excluded.value, is_secret = excluded.is_secret, updated_at = excluded.updated_at`,
        tenant, v.id, v.projectId, v.key, v.value, v.isSecret ? 1 : 0, v.createdAt, v.updatedAt,
      );
    },
    listEnvVars(tenant, projectId) {
      return all(`SELECT * FROM ws_env_vars WHERE tenant = ? AND project_id = ? ORDER BY key`, tenant, projectId).map(envOf);
    },
    deleteEnvVar(tenant, projectId, key) {
      return run(`DELETE FROM ws_env_vars WHERE tenant = ? AND project_id = ? AND key = ?`, tenant, projectId, key).changes > 0;
    },

    insertObject(tenant, kind, hash, size, now) {
      return run(`INSERT OR IGNORE INTO ws_objects (tenant, kind, hash, size, created_at) VALUES (?,?,?,?,?)`, tenant, kind, hash, size, now).changes > 0;
    },
    objectSize(tenant, kind, hash) {
      return one(`SELECT size FROM ws_objects WHERE tenant = ? AND kind = ? AND hash = ?`, tenant, kind, hash)?.size as number | undefined;
    },
    existingObjects(tenant, kind, hashes) {
      if (hashes.length === 0) return new Set();
      const rows = all(`SELECT hash FROM ws_objects WHERE tenant = ? AND kind = ? AND hash IN (${hashes.map(() => "?").join(",")})`, tenant, kind, ...hashes);
      return new Set(rows.map((r) => r.hash as string));
    },
    objectStats(tenant, kind) {
      const r = one(`SELECT COUNT(*) AS n, COALESCE(SUM(size), 0) AS b FROM ws_objects WHERE tenant = ? AND kind = ?`, tenant, kind)!;
      return { count: r.n as number, bytes: r.b as number };
    },
    scanObjects(tenant, kind, afterHash, limit) {
      return all(`SELECT hash, size, created_at FROM ws_objects WHERE tenant = ? AND kind = ? AND hash > ? ORDER BY hash LIMIT ?`, tenant, kind, afterHash, limit).map((r) => ({
        hash: r.hash as string,
        size: r.size as number,
        createdAt: r.created_at as number,
      }));
    },
    manifestsCreatedSince(tenant, since) {
      return all(`SELECT hash FROM ws_objects WHERE tenant = ? AND kind = 'manifest' AND created_at >= ?`, tenant, since).map((r) => r.hash as string);
    },
    referencedManifests(tenant) {
      return all(
        `SELECT manifest_hash AS h FROM ws_snapshots WHERE tenant = ? UNION SELECT current_manifest_hash AS h FROM ws_workspaces WHERE tenant = ? AND current_manifest_hash IS NOT NULL`,
        tenant, tenant,
      ).map((r) => r.h as string);
    },
    deleteObject(tenant, kind, hash, createdBefore) {
      return run(`DELETE FROM ws_objects WHERE tenant = ? AND kind = ? AND hash = ? AND created_at < ?`, tenant, kind, hash, createdBefore).changes > 0;
    },
    deleteObjects(tenant, kind, hashes, createdBefore) {
      return hashes.filter((h) => s.deleteObject(tenant, kind, h, createdBefore));
    },
    gcLock() {
      // One process owns the file: its in-memory pins (blobs.ts) are the whole story.
      return async () => {};
    },

    insertPreview(tenant, p) {
      run(`INSERT INTO ws_sync_previews (tenant, id, workspace_id, workspace_version, plan, expires_at) VALUES (?,?,?,?,?,?)`, tenant, p.id, p.workspaceId, p.workspaceVersion, p.plan, p.expiresAt);
    },
    getPreview(tenant, id) {
      const r = one(`SELECT * FROM ws_sync_previews WHERE tenant = ? AND id = ?`, tenant, id);
      return r && { id: r.id as string, workspaceId: r.workspace_id as string, workspaceVersion: r.workspace_version as number, plan: r.plan as string, expiresAt: r.expires_at as number, executedAt: r.executed_at as number | null, result: r.result as string | null };
    },
    markPreviewExecuted(tenant, id, now, result) {
      return run(`UPDATE ws_sync_previews SET executed_at = ?, result = ? WHERE tenant = ? AND id = ? AND executed_at IS NULL`, now, result, tenant, id).changes > 0;
    },
    deleteExpiredPreviews(now) {
      return run(`DELETE FROM ws_sync_previews WHERE expires_at < ?`, now - 24 * 3600 * 1000).changes;
    },

    insertSync(tenant, s) {
      run(
        `INSERT INTO ws_syncs (tenant, id, workspace_id, preview_id, pre_snapshot_id, pre_manifest_hash, post_snapshot_id, post_version, created_at) VALUES (?,?,?,?,?,?,?,?,?)`,
        tenant, s.id, s.workspaceId, s.previewId, s.preSnapshotId, s.preManifestHash, s.postSnapshotId, s.postVersion, s.createdAt,
      );
    },
    lastSync(tenant, workspaceId) {
      const r = one(`SELECT * FROM ws_syncs WHERE tenant = ? AND workspace_id = ? AND undone_at IS NULL ORDER BY created_at DESC, id DESC LIMIT 1`, tenant, workspaceId);
      return r && { id: r.id as string, preSnapshotId: r.pre_snapshot_id as string | null, preManifestHash: r.pre_manifest_hash as string | null, postSnapshotId: r.post_snapshot_id as string, postVersion: r.post_version as number };
    },
    markSyncUndone(tenant, id, now) {
      run(`UPDATE ws_syncs SET undone_at = ? WHERE tenant = ? AND id = ?`, now, tenant, id);
    },
  };
  return lift(s);
}

/** int8 columns (and aggregates) that Bun's PostgreSQL driver answers as strings. */
const INTS = ["created_at", "updated_at", "last_seen_at", "expires_at", "executed_at", "undone_at", "size", "bytes_changed", "seq", "n", "b", "t"] as const;

/** A constant first key of the GC advisory lock (the second is the tenant's `hashtext`); spells "wsgc". */
const GC_LOCK = 0x77736763;
/** Key of the transaction lock that lets one instance per sweep delete expired previews; spells "wspv". */
const PREVIEW_SWEEP_LOCK = 0x77737076;

const previewOf = (r: Row): Preview => ({
  id: r.id as string, workspaceId: r.workspace_id as string, workspaceVersion: r.workspace_version as number, plan: r.plan as string,
  expiresAt: r.expires_at as number, executedAt: r.executed_at as number | null, result: r.result as string | null,
});
const syncOf = (r: Row): SyncRecord => ({
  id: r.id as string, preSnapshotId: r.pre_snapshot_id as string | null, preManifestHash: r.pre_manifest_hash as string | null,
  postSnapshotId: r.post_snapshot_id as string, postVersion: r.post_version as number,
});

/** The PostgreSQL implementation: the same statements over `tx.sql` ($n parameters, text ordered as bytes). */
export function createPgWorkspaceStore(): WorkspaceStore {
  const sql = (tx: Tx) => (tx as PgTx).sql;
  function* all(tx: Tx, text: string, ...args: unknown[]): Op<Row[]> {
    return intColumns((yield* step(sql(tx).unsafe(text, args))) as Row[], INTS);
  }
  function* one(tx: Tx, text: string, ...args: unknown[]): Op<Row | undefined> {
    return (yield* all(tx, text, ...args))[0];
  }
  /** Rows touched (the statement must say `RETURNING 1`). */
  function* count(tx: Tx, text: string, ...args: unknown[]): Op<number> {
    return ((yield* step(sql(tx).unsafe(text, args))) as unknown[]).length;
  }
  const map = <T>(op: Op<Row[]>, f: (r: Row) => T): Op<T[]> =>
    (function* () {
      return (yield* op).map(f);
    })();
  const maybe = <T>(op: Op<Row | undefined>, f: (r: Row) => T): Op<T | undefined> =>
    (function* () {
      const r = yield* op;
      return r && f(r);
    })();
  const voided = (op: Op<unknown>): Op<void> =>
    (function* () {
      yield* op;
    })();

  return {
    *insertProject(tx, p, requestId) {
      return (yield* count(tx,
        `INSERT INTO ws_projects (tenant, id, user_id, name, main_workspace_id, last_snapshot_id, intent, brief, request_id, created_at, updated_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)
         ON CONFLICT (tenant, request_id) DO NOTHING RETURNING 1`,
        p.tenant, p.id, p.userId, p.name, p.mainWorkspaceId, p.lastSnapshotId, p.intent, p.brief, requestId, p.createdAt, p.updatedAt)) > 0;
    },
    projectByRequest: (tx, tenant, requestId) => maybe(one(tx, `SELECT * FROM ws_projects WHERE tenant = $1 AND request_id = $2`, tenant, requestId), projectOf),
    getProject: (tx, tenant, id) => maybe(one(tx, `SELECT * FROM ws_projects WHERE tenant = $1 AND id = $2`, tenant, id), projectOf),
    lockProject: (tx, tenant, id) => maybe(one(tx, `SELECT * FROM ws_projects WHERE tenant = $1 AND id = $2 FOR UPDATE`, tenant, id), projectOf),
    listProjects: (tx, tenant, limit, offset) =>
      map(all(tx, `SELECT * FROM ws_projects WHERE tenant = $1 ORDER BY updated_at DESC, id COLLATE "C" DESC LIMIT $2 OFFSET $3`, tenant, limit, offset), projectOf),
    updateProject(tx, tenant, id, set, now) {
      const cols: string[] = [];
      const vals: unknown[] = [];
      const names: Record<string, string> = { mainWorkspaceId: "main_workspace_id", lastSnapshotId: "last_snapshot_id", intent: "intent", brief: "brief" };
      for (const [k, v] of Object.entries(set)) {
        if (v === undefined) continue;
        vals.push(v);
        cols.push(`${names[k]} = $${vals.length}`);
      }
      vals.push(now, tenant, id);
      const n = vals.length;
      return voided(all(tx, `UPDATE ws_projects SET ${[...cols, `updated_at = $${n - 2}`].join(", ")} WHERE tenant = $${n - 1} AND id = $${n}`, ...vals));
    },

    *insertWorkspace(tx, w, requestId) {
      return (yield* count(tx,
        `INSERT INTO ws_workspaces (tenant, id, project_id, created_by, name, machine_id, local_path, base_snapshot_id, last_snapshot_id, current_manifest_hash, version, merge_history, last_seen_at, request_id, created_at, updated_at)
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16) ON CONFLICT (tenant, request_id) DO NOTHING RETURNING 1`,
        w.tenant, w.id, w.projectId, w.createdBy, w.name, w.machineId, w.localPath, w.baseSnapshotId, w.lastSnapshotId, w.currentManifestHash, w.version, JSON.stringify(w.mergeHistory), w.lastSeenAt, requestId, w.createdAt, w.updatedAt)) > 0;
    },
    workspaceByRequest: (tx, tenant, requestId) => maybe(one(tx, `SELECT * FROM ws_workspaces WHERE tenant = $1 AND request_id = $2`, tenant, requestId), workspaceOf),
    getWorkspace: (tx, tenant, id) => maybe(one(tx, `SELECT * FROM ws_workspaces WHERE tenant = $1 AND id = $2`, tenant, id), workspaceOf),
    lockWorkspace: (tx, tenant, id) => maybe(one(tx, `SELECT * FROM ws_workspaces WHERE tenant = $1 AND id = $2 FOR UPDATE`, tenant, id), workspaceOf),
    listWorkspaces: (tx, tenant, projectId, limit, offset) =>
      map(all(tx, `SELECT * FROM ws_workspaces WHERE tenant = $1 AND project_id = $2 ORDER BY created_at, id COLLATE "C" LIMIT $3 OFFSET $4`, tenant, projectId, limit, offset), workspaceOf),
    touchWorkspace: (tx, tenant, id, now) => voided(all(tx, `UPDATE ws_workspaces SET last_seen_at = $1 WHERE tenant = $2 AND id = $3`, now, tenant, id)),
    *casCurrentManifest(tx, tenant, id, hash, previous, now) {
      return (yield* count(tx,
        `UPDATE ws_workspaces SET current_manifest_hash = $1, last_seen_at = $2, updated_at = $2, version = version + 1
         WHERE tenant = $3 AND id = $4 AND (current_manifest_hash IS NULL OR current_manifest_hash = $5 OR current_manifest_hash = $1) RETURNING 1`,
        hash, now, tenant, id, previous)) > 0;
    },
    *setWorkspaceState(tx, tenant, id, expectedVersion, set, now) {
      return (yield* count(tx,
        `UPDATE ws_workspaces SET last_snapshot_id = $1, current_manifest_hash = $2, merge_history = COALESCE($3, merge_history), version = version + 1, updated_at = $4
         WHERE tenant = $5 AND id = $6 AND version = $7 RETURNING 1`,
        set.lastSnapshotId, set.currentManifestHash, set.mergeHistory ? JSON.stringify(set.mergeHistory) : null, now, tenant, id, expectedVersion)) > 0;
    },
    setLastSnapshot: (tx, tenant, id, snapshotId, now) =>
      voided(all(tx, `UPDATE ws_workspaces SET last_snapshot_id = $1, updated_at = $2, version = version + 1 WHERE tenant = $3 AND id = $4`, snapshotId, now, tenant, id)),

    *insertSnapshot(tx, s) {
      return (yield* count(tx,
        `INSERT INTO ws_snapshots (tenant, id, project_id, workspace_id, created_by, manifest_hash, parents, source, summary, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)
         ON CONFLICT (tenant, id) DO NOTHING RETURNING 1`,
        s.tenant, s.id, s.projectId, s.workspaceId, s.createdBy, s.manifestHash, JSON.stringify(s.parents), s.source, s.summary, s.createdAt)) > 0;
    },
    getSnapshot: (tx, tenant, id) => maybe(one(tx, `SELECT * FROM ws_snapshots WHERE tenant = $1 AND id = $2`, tenant, id), snapshotOf),
    listSnapshots(tx, tenant, by, limit, offset) {
      const [col, val] = by.workspaceId !== undefined ? ["workspace_id", by.workspaceId] : ["project_id", by.projectId];
      return map(all(tx, `SELECT * FROM ws_snapshots WHERE tenant = $1 AND ${col} = $2 ORDER BY created_at DESC, id COLLATE "C" DESC LIMIT $3 OFFSET $4`, tenant, val, limit, offset), snapshotOf);
    },
    *projectDag(tx, tenant, projectId) {
      const out = new Map<string, { parents: string[]; createdAt: number }>();
      for (const r of yield* all(tx, `SELECT id, parents, created_at FROM ws_snapshots WHERE tenant = $1 AND project_id = $2`, tenant, projectId)) {
        out.set(r.id as string, { parents: JSON.parse(r.parents as string) as string[], createdAt: r.created_at as number });
      }
      return out;
    },
    *countSnapshotsSince(tx, tenant, projectId, since) {
      return (yield* one(tx, `SELECT COUNT(*) AS n FROM ws_snapshots WHERE tenant = $1 AND project_id = $2 AND created_at > $3`, tenant, projectId, since))!.n as number;
    },

    insertDrift: (tx, tenant, d) =>
      voided(all(tx,
        `INSERT INTO ws_drift_reports (tenant, id, workspace_id, files_added, files_modified, files_deleted, bytes_changed, summary, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)`,
        tenant, d.id, d.workspaceId, d.filesAdded, d.filesModified, d.filesDeleted, d.bytesChanged, d.summary, d.createdAt)),
    listDrift: (tx, tenant, workspaceId, limit, offset) =>
      map(all(tx, `SELECT * FROM ws_drift_reports WHERE tenant = $1 AND workspace_id = $2 ORDER BY created_at DESC, id COLLATE "C" DESC LIMIT $3 OFFSET $4`, tenant, workspaceId, limit, offset), driftOf),

    *insertEvent(tx, e) {
      const r = yield* one(tx,
        `INSERT INTO ws_events (tenant, id, project_id, workspace_id, type, message, data, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8) RETURNING seq`,
        e.tenant, e.id, e.projectId, e.workspaceId, e.type, e.message, JSON.stringify(e.data), e.createdAt);
      return r!.seq as number;
    },
    listEvents: (tx, tenant, projectId, limit, beforeSeq) =>
      map(all(tx, `SELECT * FROM ws_events WHERE tenant = $1 AND project_id = $2 AND seq < $3 ORDER BY seq DESC LIMIT $4`, tenant, projectId, beforeSeq, limit), eventOf),
    eventsAfter: (tx, tenant, projectId, afterSeq, limit) =>
      map(all(tx, `SELECT * FROM ws_events WHERE tenant = $1 AND project_id = $2 AND seq > $3 ORDER BY seq LIMIT $4`, tenant, projectId, afterSeq, limit), eventOf),
    *eventSeq(tx, tenant, id) {
      return (yield* one(tx, `SELECT seq FROM ws_events WHERE tenant = $1 AND id = $2`, tenant, id))?.seq as number | undefined;
    },
    *lastEventAt(tx, tenant, projectId, type) {
      const r = type
        ? yield* one(tx, `SELECT MAX(created_at) AS t FROM ws_events WHERE tenant = $1 AND project_id = $2 AND type = $3`, tenant, projectId, type)
        : yield* one(tx, `SELECT MAX(created_at) AS t FROM ws_events WHERE tenant = $1 AND project_id = $2`, tenant, projectId);
      return (r?.t as number | null) ?? undefined;
    },

    upsertEnvVar: (tx, tenant, v) =>
      voided(all(tx,
        `INSERT INTO ws_env_vars (tenant, id, project_id, key, value, is_secret, created_at, updated_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)
         ON CONFLICT (tenant, project_id, key) DO UPDATE SET value = excluded.value, is_secret = excluded.is_secret, updated_at = excluded.updated_at`,
        tenant, v.id, v.projectId, v.key, v.value, v.isSecret ? 1 : 0, v.createdAt, v.updatedAt)),
    listEnvVars: (tx, tenant, projectId) => map(all(tx, `SELECT * FROM ws_env_vars WHERE tenant = $1 AND project_id = $2 ORDER BY key COLLATE "C"`, tenant, projectId), envOf),
    *deleteEnvVar(tx, tenant, projectId, key) {
      return (yield* count(tx, `DELETE FROM ws_env_vars WHERE tenant = $1 AND project_id = $2 AND key = $3 RETURNING 1`, tenant, projectId, key)) > 0;
    },

    *insertObject(tx, tenant, kind, hash, size, now) {
      // `xmax = 0` only for a row this statement inserted; an existing one is updated (and locked).
      const r = yield* one(tx,
        `INSERT INTO ws_objects (tenant, kind, hash, size, created_at) VALUES ($1,$2,$3,$4,$5)
         ON CONFLICT (tenant, kind, hash) DO UPDATE SET created_at = GREATEST(ws_objects.created_at, excluded.created_at)
         RETURNING (xmax = 0) AS inserted`,
        tenant, kind, hash, size, now);
      return r!.inserted === true;
    },
    *objectSize(tx, tenant, kind, hash) {
      return (yield* one(tx, `SELECT size FROM ws_objects WHERE tenant = $1 AND kind = $2 AND hash = $3`, tenant, kind, hash))?.size as number | undefined;
    },
    *existingObjects(tx, tenant, kind, hashes) {
      if (hashes.length === 0) return new Set<string>();
      const rows = yield* all(tx, `SELECT hash FROM ws_objects WHERE tenant = $1 AND kind = $2 AND hash = ANY($3::text[])`, tenant, kind, hashes);
      return new Set(rows.map((r) => r.hash as string));
    },
    *objectStats(tx, tenant, kind) {
      const r = (yield* one(tx, `SELECT COUNT(*) AS n, COALESCE(SUM(size), 0) AS b FROM ws_objects WHERE tenant = $1 AND kind = $2`, tenant, kind))!;
      return { count: r.n as number, bytes: r.b as number };
    },
    scanObjects: (tx, tenant, kind, afterHash, limit) =>
      map(all(tx, `SELECT hash, size, created_at FROM ws_objects WHERE tenant = $1 AND kind = $2 AND hash COLLATE "C" > $3 ORDER BY hash COLLATE "C" LIMIT $4`, tenant, kind, afterHash, limit), (r) => ({
        hash: r.hash as string,
        size: r.size as number,
        createdAt: r.created_at as number,
      })),
    manifestsCreatedSince: (tx, tenant, since) =>
      map(all(tx, `SELECT hash FROM ws_objects WHERE tenant = $1 AND kind = 'manifest' AND created_at >= $2`, tenant, since), (r) => r.hash as string),
    referencedManifests: (tx, tenant) =>
      map(all(tx, `SELECT manifest_hash AS h FROM ws_snapshots WHERE tenant = $1 UNION SELECT current_manifest_hash AS h FROM ws_workspaces WHERE tenant = $1 AND current_manifest_hash IS NOT NULL`, tenant), (r) => r.h as string),
    *deleteObject(tx, tenant, kind, hash, createdBefore) {
      return (yield* count(tx, `DELETE FROM ws_objects WHERE tenant = $1 AND kind = $2 AND hash = $3 AND created_at < $4 RETURNING 1`, tenant, kind, hash, createdBefore)) > 0;
    },
    deleteObjects: (tx, tenant, kind, hashes, createdBefore) =>
      map(all(tx, `DELETE FROM ws_objects WHERE tenant = $1 AND kind = $2 AND hash = ANY($3::text[]) AND created_at < $4 RETURNING hash`, tenant, kind, hashes, createdBefore), (r) => r.hash as string),
    *gcLock(tx, tenant) {
      // A session lock needs a connection of its own, held for the whole collection.
      const conn = (yield* step((sql(tx) as SQL).reserve())) as ReservedSQL;
      try {
        const [r] = (yield* step(conn`SELECT pg_try_advisory_lock(${GC_LOCK}, hashtext(${tenant})) AS ok`)) as { ok: boolean }[];
        if (!r!.ok) {
          conn.release();
          return undefined;
        }
      } catch (error) {
        conn.release();
        throw error;
      }
      return async () => {
        try {
          await conn`SELECT pg_advisory_unlock(${GC_LOCK}, hashtext(${tenant}))`;
        } finally {
          conn.release();
        }
      };
    },

    insertPreview: (tx, tenant, p) =>
      voided(all(tx, `INSERT INTO ws_sync_previews (tenant, id, workspace_id, workspace_version, plan, expires_at) VALUES ($1,$2,$3,$4,$5,$6)`, tenant, p.id, p.workspaceId, p.workspaceVersion, p.plan, p.expiresAt)),
    getPreview: (tx, tenant, id) => maybe(one(tx, `SELECT * FROM ws_sync_previews WHERE tenant = $1 AND id = $2`, tenant, id), previewOf),
    *markPreviewExecuted(tx, tenant, id, now, result) {
      return (yield* count(tx, `UPDATE ws_sync_previews SET executed_at = $1, result = $2 WHERE tenant = $3 AND id = $4 AND executed_at IS NULL RETURNING 1`, now, result, tenant, id)) > 0;
    },
    *deleteExpiredPreviews(tx, now) {
      // Every instance runs the sweep; one per round does the work, the others find the lock taken.
      const [lock] = (yield* all(tx, `SELECT pg_try_advisory_xact_lock(${PREVIEW_SWEEP_LOCK}) AS ok`)) as { ok: boolean }[];
      if (!lock!.ok) return 0;
      return yield* count(tx, `DELETE FROM ws_sync_previews WHERE expires_at < $1 RETURNING 1`, now - 24 * 3600 * 1000);
    },

    insertSync: (tx, tenant, s) =>
      voided(all(tx,
        `INSERT INTO ws_syncs (tenant, id, workspace_id, preview_id, pre_snapshot_id, pre_manifest_hash, post_snapshot_id, post_version, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)`,
        tenant, s.id, s.workspaceId, s.previewId, s.preSnapshotId, s.preManifestHash, s.postSnapshotId, s.postVersion, s.createdAt)),
    lastSync: (tx, tenant, workspaceId) =>
      maybe(one(tx, `SELECT * FROM ws_syncs WHERE tenant = $1 AND workspace_id = $2 AND undone_at IS NULL ORDER BY created_at DESC, id COLLATE "C" DESC LIMIT 1`, tenant, workspaceId), syncOf),
    markSyncUndone: (tx, tenant, id, now) => voided(all(tx, `UPDATE ws_syncs SET undone_at = $1 WHERE tenant = $2 AND id = $3`, now, tenant, id)),
  };
}
