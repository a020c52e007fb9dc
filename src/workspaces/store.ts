import type { Database as Sqlite } from "bun:sqlite";
import type { DriftReport, EnvVar, MergeRecord, ObjectKind, Project, ProjectEvent, Snapshot, Workspace } from "./types.ts";

/** All SQL of the workspace domain. Writes are called inside `committer.run` by the domain. */
export interface WorkspaceStore {
  insertProject(p: Project, requestId: string | null): void;
  projectByRequest(tenant: string, requestId: string): Project | undefined;
  getProject(tenant: string, id: string): Project | undefined;
  listProjects(tenant: string, limit: number, offset: number): Project[];
  updateProject(tenant: string, id: string, set: Partial<Pick<Project, "mainWorkspaceId" | "lastSnapshotId" | "intent" | "brief">>, now: number): void;

  insertWorkspace(w: Workspace, requestId: string | null): void;
  workspaceByRequest(tenant: string, requestId: string): Workspace | undefined;
  getWorkspace(tenant: string, id: string): Workspace | undefined;
  listWorkspaces(tenant: string, projectId: string, limit: number, offset: number): Workspace[];
  touchWorkspace(tenant: string, id: string, now: number): void;
  /** Compare-and-set of the current manifest: only when it is null or equals `previous`. */
  casCurrentManifest(tenant: string, id: string, hash: string, previous: string | null, now: number): boolean;
  /** Moves a workspace to a new content state when its version is still `expectedVersion`. */
  setWorkspaceState(tenant: string, id: string, expectedVersion: number, set: { lastSnapshotId: string | null; currentManifestHash: string | null; mergeHistory?: Record<string, MergeRecord> }, now: number): boolean;
  setLastSnapshot(tenant: string, id: string, snapshotId: string, now: number): void;

  insertSnapshot(s: Snapshot): void;
  getSnapshot(tenant: string, id: string): Snapshot | undefined;
  listSnapshots(tenant: string, by: { projectId?: string; workspaceId?: string }, limit: number, offset: number): Snapshot[];
  /** id → parents of every snapshot of a project (the DAG). */
  projectDag(tenant: string, projectId: string): Map<string, { parents: string[]; createdAt: number }>;
  countSnapshotsSince(tenant: string, projectId: string, since: number): number;

  insertDrift(tenant: string, d: DriftReport): void;
  listDrift(tenant: string, workspaceId: string, limit: number, offset: number): DriftReport[];

  insertEvent(e: Omit<ProjectEvent, "seq">): number;
  listEvents(tenant: string, projectId: string, limit: number, beforeSeq: number): ProjectEvent[];
  eventsAfter(tenant: string, projectId: string, afterSeq: number, limit: number): ProjectEvent[];
  eventSeq(tenant: string, id: string): number | undefined;
  lastEventAt(tenant: string, projectId: string, type?: string): number | undefined;

  upsertEnvVar(tenant: string, v: EnvVar): void;
  listEnvVars(tenant: string, projectId: string): EnvVar[];
  deleteEnvVar(tenant: string, projectId: string, key: string): boolean;

  insertObject(tenant: string, kind: ObjectKind, hash: string, size: number, now: number): boolean;
  objectSize(tenant: string, kind: ObjectKind, hash: string): number | undefined;
  existingObjects(tenant: string, kind: ObjectKind, hashes: string[]): Set<string>;
  objectStats(tenant: string, kind: ObjectKind): { count: number; bytes: number };
  /** Blobs after `afterHash` in hash order (a GC scan page). */
  scanObjects(tenant: string, kind: ObjectKind, afterHash: string, limit: number): { hash: string; size: number; createdAt: number }[];
  manifestsCreatedSince(tenant: string, since: number): string[];
  /** Every manifest hash a snapshot or a workspace refers to. */
  referencedManifests(tenant: string): string[];
  deleteObject(tenant: string, kind: ObjectKind, hash: string, createdBefore: number): boolean;

  insertPreview(tenant: string, p: { id: string; workspaceId: string; workspaceVersion: number; plan: string; expiresAt: number }): void;
  getPreview(tenant: string, id: string): { id: string; workspaceId: string; workspaceVersion: number; plan: string; expiresAt: number; executedAt: number | null; result: string | null } | undefined;
  /** Records the execution and its result (JSON), once. */
  markPreviewExecuted(tenant: string, id: string, now: number, result: string): boolean;
  deleteExpiredPreviews(now: number): number;

  insertSync(tenant: string, s: { id: string; workspaceId: string; previewId: string; preSnapshotId: string | null; preManifestHash: string | null; postSnapshotId: string; postVersion: number; createdAt: number }): void;
  lastSync(tenant: string, workspaceId: string): { id: string; preSnapshotId: string | null; preManifestHash: string | null; postSnapshotId: string; postVersion: number } | undefined;
  markSyncUndone(tenant: string, id: string, now: number): void;
}

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

type Row = Record<string, unknown>;

/** The SQLite implementation. */
export function createWorkspaceStore(sqlite: Sqlite): WorkspaceStore {
  const all = (sql: string, ...args: unknown[]) => sqlite.query(sql).all(...(args as never[])) as Row[];
  const one = (sql: string, ...args: unknown[]) => (sqlite.query(sql).get(...(args as never[])) as Row | null) ?? undefined;
  const run = (sql: string, ...args: unknown[]) => sqlite.query(sql).run(...(args as never[]));

  return {
    insertProject(p, requestId) {
      run(
        `INSERT INTO ws_projects (tenant, id, user_id, name, main_workspace_id, last_snapshot_id, intent, brief, request_id, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)`,
        p.tenant, p.id, p.userId, p.name, p.mainWorkspaceId, p.lastSnapshotId, p.intent, p.brief, requestId, p.createdAt, p.updatedAt,
      );
    },
    projectByRequest(tenant, requestId) {
      const r = one(`SELECT * FROM ws_projects WHERE tenant = ? AND request_id = ?`, tenant, requestId);
      return r && projectOf(r);
    },
    getProject(tenant, id) {
      const r = one(`SELECT * FROM ws_projects WHERE tenant = ? AND id = ?`, tenant, id);
      return r && projectOf(r);
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
    },
    workspaceByRequest(tenant, requestId) {
      const r = one(`SELECT * FROM ws_workspaces WHERE tenant = ? AND request_id = ?`, tenant, requestId);
      return r && workspaceOf(r);
    },
    getWorkspace(tenant, id) {
      const r = one(`SELECT * FROM ws_workspaces WHERE tenant = ? AND id = ?`, tenant, id);
      return r && workspaceOf(r);
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
}
