/** Plain domain types of the workspace domain (no protobuf). Times are epoch milliseconds. */

export interface Project {
  tenant: string;
  id: string;
  userId: string;
  name: string;
  mainWorkspaceId: string | null;
  lastSnapshotId: string | null;
  intent: string;
  brief: string;
  createdAt: number;
  updatedAt: number;
}

export interface MergeRecord {
  last_merged_snapshot: string;
  merged_at: number;
}

export interface Workspace {
  tenant: string;
  id: string;
  projectId: string;
  createdBy: string;
  name: string;
  machineId: string;
  localPath: string;
  baseSnapshotId: string | null;
  lastSnapshotId: string | null;
  currentManifestHash: string | null;
  version: number;
  mergeHistory: Record<string, MergeRecord>;
  lastSeenAt: number | null;
  createdAt: number;
  updatedAt: number;
}

export interface Snapshot {
  tenant: string;
  id: string;
  projectId: string;
  workspaceId: string | null;
  createdBy: string;
  manifestHash: string;
  parents: string[];
  source: string;
  summary: string;
  createdAt: number;
}

export interface DriftReport {
  id: string;
  workspaceId: string;
  filesAdded: number;
  filesModified: number;
  filesDeleted: number;
  bytesChanged: number;
  summary: string;
  createdAt: number;
}

export interface ProjectEvent {
  seq: number;
  id: string;
  tenant: string;
  projectId: string;
  workspaceId: string;
  type: string;
  message: string;
  data: Record<string, unknown>;
  createdAt: number;
}

export interface EnvVar {
  id: string;
  projectId: string;
  key: string;
  /** Plain text, or sealed text when `isSecret`. */
  value: string;
  isSecret: boolean;
  createdAt: number;
  updatedAt: number;
}

export type ObjectKind = "blob" | "manifest";
