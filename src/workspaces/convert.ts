import { create, type JsonObject } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromMs, type Timestamp } from "@bufbuild/protobuf/wkt";
import { EnvVarSchema, ProjectEventSchema, ProjectSchema, type EnvVar, type Project, type ProjectEvent } from "../../gen/switchyard/workspaces/v1/projects_pb.js";
import { SnapshotSchema, type Snapshot } from "../../gen/switchyard/workspaces/v1/snapshots_pb.js";
import {
  DriftReportSchema,
  MergeRecordSchema,
  SyncPreviewSchema,
  WorkspaceDriftSchema,
  WorkspaceSchema,
  type DriftReport,
  type SyncPreview,
  type Workspace,
  type WorkspaceDrift,
} from "../../gen/switchyard/workspaces/v1/workspaces_pb.js";
import type { WorkspaceDomain } from "./context.ts";
import { enrichDrift } from "./drift.ts";
import type { SyncPreview as DomainPreview } from "./sync.ts";
import type * as T from "./types.ts";

export const ts = (m: number | null | undefined): Timestamp | undefined => (m === undefined || m === null ? undefined : timestampFromMs(m));

export function projectMessage(p: T.Project): Project {
  return create(ProjectSchema, {
    id: p.id, userId: p.userId, ownerUserId: p.userId, name: p.name, mainWorkspaceId: p.mainWorkspaceId ?? "", lastSnapshotId: p.lastSnapshotId ?? "",
    intent: p.intent, brief: p.brief, createdAt: ts(p.createdAt), updatedAt: ts(p.updatedAt),
  });
}

export function driftMessage(r: T.DriftReport): DriftReport {
  return create(DriftReportSchema, {
    id: r.id, workspaceId: r.workspaceId, filesAdded: r.filesAdded, filesModified: r.filesModified, filesDeleted: r.filesDeleted,
    bytesChanged: BigInt(r.bytesChanged), summary: r.summary, createdAt: ts(r.createdAt),
  });
}

export function workspaceMessage(d: WorkspaceDomain, w: T.Workspace, project: T.Project | undefined, latestDrift?: T.DriftReport): Workspace {
  return create(WorkspaceSchema, {
    id: w.id, projectId: w.projectId, name: w.name, machineId: w.machineId, localPath: w.localPath,
    baseSnapshotId: w.baseSnapshotId ?? "", forkSnapshotId: w.baseSnapshotId ?? "",
    lastSnapshotId: w.lastSnapshotId ?? "", currentSnapshotId: w.lastSnapshotId ?? "",
    currentManifestHash: w.currentManifestHash ?? "", isMain: project?.mainWorkspaceId === w.id, version: BigInt(w.version),
    lastSeenAt: ts(w.lastSeenAt), createdAt: ts(w.createdAt), updatedAt: ts(w.updatedAt),
    latestDriftReport: latestDrift ? driftMessage(latestDrift) : undefined,
    mergeHistory: Object.fromEntries(Object.entries(w.mergeHistory).map(([k, v]) => [k, create(MergeRecordSchema, { lastMergedSnapshot: v.last_merged_snapshot, mergedAt: ts(v.merged_at) })])),
  });
}

export function workspaceDriftMessage(d: WorkspaceDomain, r: T.DriftReport): WorkspaceDrift {
  const e = enrichDrift(d, r);
  return create(WorkspaceDriftSchema, {
    id: r.id, workspaceId: r.workspaceId, filesAdded: r.filesAdded, filesModified: r.filesModified, filesDeleted: r.filesDeleted,
    bytesChanged: BigInt(r.bytesChanged), summary: r.summary, createdAt: ts(r.createdAt),
    overlapRatio: e.overlapRatio, riskLevel: e.riskLevel, staleness: durationFromMs(e.stalenessMs), isStale: e.isStale, countsByExtension: {},
  });
}

export function snapshotMessage(s: T.Snapshot): Snapshot {
  return create(SnapshotSchema, {
    id: s.id, projectId: s.projectId, manifestHash: s.manifestHash, parentSnapshotIds: s.parents, parentSnapshotId: s.parents[0] ?? "",
    source: s.source, workspaceId: s.workspaceId ?? "", createdAt: ts(s.createdAt), summary: s.summary,
  });
}

export function eventMessage(e: T.ProjectEvent): ProjectEvent {
  return create(ProjectEventSchema, {
    id: e.id, projectId: e.projectId, workspaceId: e.workspaceId, type: e.type, message: e.message, data: e.data as JsonObject, createdAt: ts(e.createdAt),
  });
}

export function envVarMessage(v: T.EnvVar): EnvVar {
  return create(EnvVarSchema, { id: v.id, projectId: v.projectId, key: v.key, value: v.value, isSecret: v.isSecret, createdAt: ts(v.createdAt), updatedAt: ts(v.updatedAt) });
}

export function previewMessage(p: DomainPreview): SyncPreview {
  return create(SyncPreviewSchema, {
    id: p.id, workspaceId: p.workspaceId, sourceWorkspaceId: p.sourceWorkspaceId, mergeBaseSnapshotId: p.mergeBaseSnapshotId,
    autoActions: p.autoActions.map((a) => ({ path: a.path, action: a.action, resultHash: a.result?.hash ?? "", reason: a.reason })),
    decisionsNeeded: p.decisions.map((x) => ({
      path: x.path, reason: x.reason, recommendedOptionId: x.recommended,
      options: x.options.map((o) => ({ id: o.id, label: o.label, description: o.description, resultHash: o.result?.hash ?? "" })),
    })),
    filesToUpdate: p.filesToUpdate, filesToAdd: p.filesToAdd, filesToDelete: p.filesToDelete, filesUnchanged: p.unchanged, summary: p.summary,
    workspaceVersion: BigInt(p.workspaceVersion), expiresAt: ts(p.expiresAt), targetSnapshotId: p.targetSnapshotId, sourceSnapshotId: p.sourceSnapshotId,
  });
}
