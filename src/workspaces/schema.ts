import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

/**
 * The workspace domain's tables. Every row has its tenant; every query filters by it. Times are
 * milliseconds since the epoch (server clock); JSON columns hold text.
 */
export const projects = sqliteTable(
  "ws_projects",
  {
    tenant: text("tenant").notNull(),
    id: text("id").notNull(),
    userId: text("user_id").notNull(),
    name: text("name").notNull(),
    mainWorkspaceId: text("main_workspace_id"),
    lastSnapshotId: text("last_snapshot_id"),
    intent: text("intent").notNull().default(""),
    brief: text("brief").notNull().default(""),
    requestId: text("request_id"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.tenant, t.id] }),
    index("ws_projects_by_updated").on(t.tenant, t.updatedAt),
    uniqueIndex("ws_projects_request").on(t.tenant, t.requestId),
  ],
);

export const workspaces = sqliteTable(
  "ws_workspaces",
  {
    tenant: text("tenant").notNull(),
    id: text("id").notNull(),
    projectId: text("project_id").notNull(),
    /** The user who created it ("" when the caller is not a user). */
    createdBy: text("created_by").notNull().default(""),
    name: text("name").notNull(),
    machineId: text("machine_id").notNull().default(""),
    localPath: text("local_path").notNull().default(""),
    baseSnapshotId: text("base_snapshot_id"),
    lastSnapshotId: text("last_snapshot_id"),
    currentManifestHash: text("current_manifest_hash"),
    /** Optimistic lock: +1 on every change of the workspace's content (sync, undo, manifest). */
    version: integer("version").notNull().default(1),
    /** JSON object: source workspace id → { last_merged_snapshot, merged_at }. */
    mergeHistory: text("merge_history"),
    lastSeenAt: integer("last_seen_at"),
    requestId: text("request_id"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.tenant, t.id] }),
    index("ws_workspaces_by_project").on(t.tenant, t.projectId, t.createdAt),
    uniqueIndex("ws_workspaces_request").on(t.tenant, t.requestId),
  ],
);

export const snapshots = sqliteTable(
  "ws_snapshots",
  {
    tenant: text("tenant").notNull(),
    id: text("id").notNull(),
    projectId: text("project_id").notNull(),
    workspaceId: text("workspace_id"),
    /** The user who created it ("" for the server's own, e.g. sync snapshots). */
    createdBy: text("created_by").notNull().default(""),
    manifestHash: text("manifest_hash").notNull(),
    /** JSON array of parent snapshot ids (first parent first). */
    parents: text("parents").notNull(),
    source: text("source").notNull().default(""),
    summary: text("summary").notNull().default(""),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.tenant, t.id] }),
    index("ws_snapshots_by_project").on(t.tenant, t.projectId, t.createdAt),
    index("ws_snapshots_by_workspace").on(t.tenant, t.workspaceId, t.createdAt),
  ],
);

export const driftReports = sqliteTable(
  "ws_drift_reports",
  {
    tenant: text("tenant").notNull(),
    id: text("id").notNull(),
    workspaceId: text("workspace_id").notNull(),
    filesAdded: integer("files_added").notNull(),
    filesModified: integer("files_modified").notNull(),
    filesDeleted: integer("files_deleted").notNull(),
    bytesChanged: integer("bytes_changed").notNull(),
    summary: text("summary").notNull().default(""),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenant, t.id] }), index("ws_drift_by_workspace").on(t.tenant, t.workspaceId, t.createdAt)],
);

export const events = sqliteTable(
  "ws_events",
  {
    seq: integer("seq").primaryKey({ autoIncrement: true }),
    tenant: text("tenant").notNull(),
    id: text("id").notNull(),
    projectId: text("project_id").notNull(),
    workspaceId: text("workspace_id").notNull().default(""),
    type: text("type").notNull(),
    message: text("message").notNull(),
    /** JSON object. */
    data: text("data").notNull().default("{}"),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [index("ws_events_by_project").on(t.tenant, t.projectId, t.seq), uniqueIndex("ws_events_id").on(t.tenant, t.id)],
);

export const envVars = sqliteTable(
  "ws_env_vars",
  {
    tenant: text("tenant").notNull(),
    id: text("id").notNull(),
    projectId: text("project_id").notNull(),
    key: text("key").notNull(),
    /** Plain text for ordinary variables; `SecretBox` sealed text for secrets (never plaintext). */
    value: text("value").notNull(),
    isSecret: integer("is_secret").notNull(),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenant, t.id] }), uniqueIndex("ws_env_vars_key").on(t.tenant, t.projectId, t.key)],
);

/** The index of stored blobs and manifests (the bytes are in the BlobStore). */
export const objects = sqliteTable(
  "ws_objects",
  {
    tenant: text("tenant").notNull(),
    /** "blob" or "manifest". */
    kind: text("kind").notNull(),
    hash: text("hash").notNull(),
    size: integer("size").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenant, t.kind, t.hash] }), index("ws_objects_by_age").on(t.tenant, t.kind, t.createdAt)],
);

export const syncPreviews = sqliteTable(
  "ws_sync_previews",
  {
    tenant: text("tenant").notNull(),
    id: text("id").notNull(),
    workspaceId: text("workspace_id").notNull(),
    workspaceVersion: integer("workspace_version").notNull(),
    /** JSON: the plan (actions, decisions, manifests) execute applies. */
    plan: text("plan").notNull(),
    expiresAt: integer("expires_at").notNull(),
    executedAt: integer("executed_at"),
    /** JSON: the execute result, answered again to a retry of the same preview. */
    result: text("result"),
  },
  (t) => [primaryKey({ columns: [t.tenant, t.id] }), index("ws_sync_previews_by_expiry").on(t.expiresAt)],
);

/** Executed syncs, for undo. */
export const syncs = sqliteTable(
  "ws_syncs",
  {
    tenant: text("tenant").notNull(),
    id: text("id").notNull(),
    workspaceId: text("workspace_id").notNull(),
    previewId: text("preview_id").notNull(),
    preSnapshotId: text("pre_snapshot_id"),
    preManifestHash: text("pre_manifest_hash"),
    postSnapshotId: text("post_snapshot_id").notNull(),
    /** The workspace version the sync left; undo refuses once the workspace moved on. */
    postVersion: integer("post_version").notNull(),
    createdAt: integer("created_at").notNull(),
    undoneAt: integer("undone_at"),
  },
  (t) => [primaryKey({ columns: [t.tenant, t.id] }), index("ws_syncs_by_workspace").on(t.tenant, t.workspaceId, t.createdAt)],
);
