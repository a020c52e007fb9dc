import { bigint, bigserial, index, integer, pgTable, primaryKey, text, uniqueIndex } from "drizzle-orm/pg-core";

/**
 * PostgreSQL twins of schema.ts: same tables, same columns. Millisecond times, sizes and the
 * event sequence are int8 (`bigint`, numbers in the app); JSON stays text; `is_secret` is 0/1.
 */
export const projects = pgTable(
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
    createdAt: bigint("created_at", { mode: "number" }).notNull(),
    updatedAt: bigint("updated_at", { mode: "number" }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.tenant, t.id] }),
    index("ws_projects_by_updated").on(t.tenant, t.updatedAt),
    uniqueIndex("ws_projects_request").on(t.tenant, t.requestId),
  ],
);

export const workspaces = pgTable(
  "ws_workspaces",
  {
    tenant: text("tenant").notNull(),
    id: text("id").notNull(),
    projectId: text("project_id").notNull(),
    createdBy: text("created_by").notNull().default(""),
    name: text("name").notNull(),
    machineId: text("machine_id").notNull().default(""),
    localPath: text("local_path").notNull().default(""),
    baseSnapshotId: text("base_snapshot_id"),
    lastSnapshotId: text("last_snapshot_id"),
    currentManifestHash: text("current_manifest_hash"),
    version: integer("version").notNull().default(1),
    mergeHistory: text("merge_history"),
    lastSeenAt: bigint("last_seen_at", { mode: "number" }),
    requestId: text("request_id"),
    createdAt: bigint("created_at", { mode: "number" }).notNull(),
    updatedAt: bigint("updated_at", { mode: "number" }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.tenant, t.id] }),
    index("ws_workspaces_by_project").on(t.tenant, t.projectId, t.createdAt),
    uniqueIndex("ws_workspaces_request").on(t.tenant, t.requestId),
  ],
);

export const snapshots = pgTable(
  "ws_snapshots",
  {
    tenant: text("tenant").notNull(),
    id: text("id").notNull(),
    projectId: text("project_id").notNull(),
    workspaceId: text("workspace_id"),
    createdBy: text("created_by").notNull().default(""),
    manifestHash: text("manifest_hash").notNull(),
    parents: text("parents").notNull(),
    source: text("source").notNull().default(""),
    summary: text("summary").notNull().default(""),
    createdAt: bigint("created_at", { mode: "number" }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.tenant, t.id] }),
    index("ws_snapshots_by_project").on(t.tenant, t.projectId, t.createdAt),
    index("ws_snapshots_by_workspace").on(t.tenant, t.workspaceId, t.createdAt),
  ],
);

export const driftReports = pgTable(
  "ws_drift_reports",
  {
    tenant: text("tenant").notNull(),
    id: text("id").notNull(),
    workspaceId: text("workspace_id").notNull(),
    filesAdded: integer("files_added").notNull(),
    filesModified: integer("files_modified").notNull(),
    filesDeleted: integer("files_deleted").notNull(),
    bytesChanged: bigint("bytes_changed", { mode: "number" }).notNull(),
    summary: text("summary").notNull().default(""),
    createdAt: bigint("created_at", { mode: "number" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenant, t.id] }), index("ws_drift_by_workspace").on(t.tenant, t.workspaceId, t.createdAt)],
);

export const events = pgTable(
  "ws_events",
  {
    seq: bigserial("seq", { mode: "number" }).primaryKey(),
    tenant: text("tenant").notNull(),
    id: text("id").notNull(),
    projectId: text("project_id").notNull(),
    workspaceId: text("workspace_id").notNull().default(""),
    type: text("type").notNull(),
    message: text("message").notNull(),
    data: text("data").notNull().default("{}"),
    createdAt: bigint("created_at", { mode: "number" }).notNull(),
  },
  (t) => [index("ws_events_by_project").on(t.tenant, t.projectId, t.seq), uniqueIndex("ws_events_id").on(t.tenant, t.id)],
);

export const envVars = pgTable(
  "ws_env_vars",
  {
    tenant: text("tenant").notNull(),
    id: text("id").notNull(),
    projectId: text("project_id").notNull(),
    key: text("key").notNull(),
    value: text("value").notNull(),
    isSecret: integer("is_secret").notNull(),
    createdAt: bigint("created_at", { mode: "number" }).notNull(),
    updatedAt: bigint("updated_at", { mode: "number" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenant, t.id] }), uniqueIndex("ws_env_vars_key").on(t.tenant, t.projectId, t.key)],
);

export const objects = pgTable(
  "ws_objects",
  {
    tenant: text("tenant").notNull(),
    kind: text("kind").notNull(),
    hash: text("hash").notNull(),
    size: bigint("size", { mode: "number" }).notNull(),
    createdAt: bigint("created_at", { mode: "number" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenant, t.kind, t.hash] }), index("ws_objects_by_age").on(t.tenant, t.kind, t.createdAt)],
);

export const syncPreviews = pgTable(
  "ws_sync_previews",
  {
    tenant: text("tenant").notNull(),
    id: text("id").notNull(),
    workspaceId: text("workspace_id").notNull(),
    workspaceVersion: integer("workspace_version").notNull(),
    plan: text("plan").notNull(),
    expiresAt: bigint("expires_at", { mode: "number" }).notNull(),
    executedAt: bigint("executed_at", { mode: "number" }),
    result: text("result"),
  },
  (t) => [primaryKey({ columns: [t.tenant, t.id] }), index("ws_sync_previews_by_expiry").on(t.expiresAt)],
);

export const syncs = pgTable(
  "ws_syncs",
  {
    tenant: text("tenant").notNull(),
    id: text("id").notNull(),
    workspaceId: text("workspace_id").notNull(),
    previewId: text("preview_id").notNull(),
    preSnapshotId: text("pre_snapshot_id"),
    preManifestHash: text("pre_manifest_hash"),
    postSnapshotId: text("post_snapshot_id").notNull(),
    postVersion: integer("post_version").notNull(),
    createdAt: bigint("created_at", { mode: "number" }).notNull(),
    undoneAt: bigint("undone_at", { mode: "number" }),
  },
  (t) => [primaryKey({ columns: [t.tenant, t.id] }), index("ws_syncs_by_workspace").on(t.tenant, t.workspaceId, t.createdAt)],
);
