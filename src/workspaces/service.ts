import { create } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { BlobService } from "../../gen/switchyard/workspaces/v1/blob_service_pb.js";
import { ProjectService } from "../../gen/switchyard/workspaces/v1/project_service_pb.js";
import { SnapshotService } from "../../gen/switchyard/workspaces/v1/snapshot_service_pb.js";
import { WorkspaceService } from "../../gen/switchyard/workspaces/v1/workspace_service_pb.js";
import { HttpBodySchema } from "../../gen/google/api/httpbody_pb.js";
import { principalOf, tenantOf } from "../core/principal.ts";
import { checkBlobs, checkHashes, openObject, putObject, readObject, storageStats } from "./blobs.ts";
import type { WorkspaceDomain } from "./context.ts";
import * as cv from "./convert.ts";
import { docContent, listDocs } from "./docs.ts";
import { compareDrift, listDrift, reportDrift } from "./drift.ts";
import { deleteEnvVar, envVarValues, listEnvVars, setEnvVars } from "./env-vars.ts";
import { collectGarbage } from "./gc.ts";
import * as projects from "./projects.ts";
import * as snapshots from "./snapshots.ts";
import { executeSync, prepareSync, undoSync } from "./sync.ts";
import { downloadSinkKey, uploadLengthKey, uploadSourceKey } from "./transfer.ts";
import { read } from "./events.ts";
import type * as T from "./types.ts";
import * as workspaces from "./workspaces.ts";

const once = (bytes: Uint8Array) => (async function* () {
  yield bytes;
})();
const urls = (hashes: string[], prefix: string) => Object.fromEntries(hashes.map((h) => [h, `${prefix}${h}`]));

/** BlobService: content-addressed blobs and manifests of the caller's tenant. */
export function blobService(d: WorkspaceDomain): Partial<ServiceImpl<typeof BlobService>> {
  const upload = async (kind: "blob" | "manifest", hash: string, data: Uint8Array | undefined, ctx: HandlerContext) =>
    putObject(d, tenantOf(ctx), kind, hash, ctx.values.get(uploadSourceKey) ?? once(data ?? new Uint8Array()), ctx.values.get(uploadLengthKey));
  const download = async (kind: "blob" | "manifest", hash: string, ctx: HandlerContext) => {
    const sink = ctx.values.get(downloadSinkKey);
    const contentType = kind === "blob" ? "application/octet-stream" : "application/json";
    if (sink) {
      sink.handle = await openObject(d, tenantOf(ctx), kind, hash);
      return { body: create(HttpBodySchema, { contentType }) };
    }
    return { body: create(HttpBodySchema, { contentType, data: await readObject(d, tenantOf(ctx), kind, hash) }) };
  };
  return {
    checkBlobs: (req, ctx) => checkBlobs(d, tenantOf(ctx), req.hashes),
    presignUpload(req) {
      checkHashes(req.hashes);
      return { urls: urls(req.hashes, "/v1/blobs/upload/") };
    },
    presignDownload(req) {
      checkHashes(req.hashes);
      return { urls: urls(req.hashes, "/v1/blobs/download/") };
    },
    async uploadBlob(req, ctx) {
      const r = await upload("blob", req.hash, req.body?.data, ctx);
      return { hash: r.hash, size: BigInt(r.size), created: r.created };
    },
    downloadBlob: (req, ctx) => download("blob", req.hash, ctx),
    async putManifest(req, ctx) {
      const r = await upload("manifest", req.hash, req.body?.data, ctx);
      return { hash: r.hash, created: r.created };
    },
    getManifest: (req, ctx) => download("manifest", req.hash, ctx),
    async collectGarbage(req, ctx) {
      const r = await collectGarbage(d, tenantOf(ctx), { dryRun: req.dryRun, maxBlobs: req.maxBlobs });
      return { success: true, wasDryRun: r.dryRun, scannedBlobCount: r.scannedBlobs, orphanedBlobCount: r.orphanedBlobs, freedByteCount: BigInt(r.freedBytes), freedMb: r.freedMB };
    },
    async getStorageStats(_req, ctx) {
      const s = await storageStats(d, tenantOf(ctx));
      const usage = (u: { count: number; bytes: number; mb: number }) => ({ count: BigInt(u.count), bytes: BigInt(u.bytes), mb: u.mb });
      return { blobs: usage(s.blobs), manifests: usage(s.manifests), total: { bytes: BigInt(s.total.bytes), mb: s.total.mb } };
    },
  };
}

/** ProjectService: projects, their events, env vars, docs and brief. */
export function projectService(d: WorkspaceDomain): Partial<ServiceImpl<typeof ProjectService>> {
  return {
    async createProject(req, ctx) {
      const p = await projects.createProject(d, tenantOf(ctx), principalOf(ctx).user, { name: req.name, requestId: req.requestId });
      return { project: cv.projectMessage(p) };
    },
    async listProjects(req, ctx) {
      const r = await projects.listProjects(d, tenantOf(ctx), req.pageSize, req.pageToken);
      return { projects: r.items.map(cv.projectMessage), nextPageToken: r.next };
    },
    async getProject(req, ctx) {
      const tenant = tenantOf(ctx);
      const p = await projects.getProject(d, tenant, req.projectId);
      const ins = await projects.snapshotInsights(d, tenant, p.id);
      const { ws, snaps, events } = await read(d, function* (tx) {
        const ws: { w: T.Workspace; drift: T.DriftReport | undefined }[] = [];
        for (const w of yield* d.store.listWorkspaces(tx, tenant, p.id, 1000, 0)) ws.push({ w, drift: (yield* d.store.listDrift(tx, tenant, w.id, 1, 0))[0] });
        const snaps = yield* d.store.listSnapshots(tx, tenant, { projectId: p.id }, 10, 0);
        const events = yield* d.store.listEvents(tx, tenant, p.id, 20, Number.MAX_SAFE_INTEGER);
        return { ws, snaps, events };
      });
      return {
        project: cv.projectMessage(p),
        workspaces: ws.map(({ w, drift }) => cv.workspaceMessage(d, w, p, drift)),
        snapshots: snaps.map(cv.snapshotMessage),
        events: events.map(cv.eventMessage),
        snapshotInsights: {
          lastMergeAt: cv.ts(ins.lastMergeAt), lastDeployAt: cv.ts(ins.lastDeployAt),
          snapshotsSinceMerge: BigInt(ins.snapshotsSinceMerge), snapshotsSinceDeploy: BigInt(ins.snapshotsSinceDeploy),
        },
      };
    },
    async getProjectStatus(req, ctx) {
      const s = await projects.projectStatus(d, tenantOf(ctx), req.projectId);
      return { lastSnapshotId: s.lastSnapshotId, updatedAt: cv.ts(s.updatedAt), lastActivity: cv.ts(s.lastActivity) };
    },
    async listProjectEvents(req, ctx) {
      const r = await projects.listEvents(d, tenantOf(ctx), req.projectId, req.limit, req.pageToken);
      return { events: r.items.map(cv.eventMessage), nextPageToken: r.next };
    },
    async *watchProjectEvents(req, ctx) {
      for await (const e of projects.watchEvents(d, tenantOf(ctx), req.projectId, req.afterEventId, ctx.signal)) yield { event: cv.eventMessage(e) };
    },
    async listEnvVars(req, ctx) {
      return { variables: (await listEnvVars(d, tenantOf(ctx), req.projectId)).map(cv.envVarMessage) };
    },
    async setEnvVar(req, ctx) {
      await setEnvVars(d, tenantOf(ctx), req.projectId, [{ key: req.key, value: req.value, isSecret: req.isSecret }], false);
      return { success: true };
    },
    async batchSetEnvVars(req, ctx) {
      const count = await setEnvVars(d, tenantOf(ctx), req.projectId, req.variables.map((v) => ({ key: v.key, value: v.value, isSecret: v.isSecret })), true);
      return { success: true, count };
    },
    async deleteEnvVar(req, ctx) {
      await deleteEnvVar(d, tenantOf(ctx), req.projectId, req.key);
      return { success: true };
    },
    async listEnvVarValues(req, ctx) {
      return { variables: await envVarValues(d, tenantOf(ctx), req.projectId) };
    },
    async listDocs(req, ctx) {
      const r = await listDocs(d, tenantOf(ctx), req.projectId);
      return {
        workspaces: r.workspaces.map((w) => ({ workspaceId: w.workspaceId, workspaceName: w.workspaceName, files: w.files.map((f) => ({ path: f.path, hash: f.hash, size: BigInt(f.size) })) })),
        totalFiles: r.totalFiles,
      };
    },
    async getDocContent(req, ctx) {
      return docContent(d, tenantOf(ctx), req.projectId, req.workspace, req.path);
    },
    async getProjectBrief(req, ctx) {
      const p = await projects.getProject(d, tenantOf(ctx), req.projectId);
      return { project: { id: p.id, intent: p.intent, brief: p.brief } };
    },
    async updateProjectBrief(req, ctx) {
      await projects.updateBrief(d, tenantOf(ctx), req.projectId, { intent: req.intent, brief: req.brief });
      return { success: true };
    },
  };
}

/** WorkspaceService: workspaces, drift, sync. */
export function workspaceService(d: WorkspaceDomain): Partial<ServiceImpl<typeof WorkspaceService>> {
  const view = async (tenant: string, w: T.Workspace) => {
    const { project, drift } = await read(d, function* (tx) {
      return { project: yield* d.store.getProject(tx, tenant, w.projectId), drift: (yield* d.store.listDrift(tx, tenant, w.id, 1, 0))[0] };
    });
    return cv.workspaceMessage(d, w, project, drift);
  };
  return {
    async createWorkspace(req, ctx) {
      const tenant = tenantOf(ctx);
      const w = await workspaces.createWorkspace(d, tenant, {
        projectId: req.projectId, name: req.name, machineId: req.machineId, baseSnapshotId: req.baseSnapshotId || req.forkSnapshotId, localPath: req.localPath, requestId: req.requestId, user: principalOf(ctx).user,
      });
      return { workspace: await view(tenant, w) };
    },
    async listWorkspaces(req, ctx) {
      const tenant = tenantOf(ctx);
      const r = await workspaces.listWorkspaces(d, tenant, req.projectId, req.pageSize, req.pageToken);
      return { workspaces: await Promise.all(r.items.map((w) => view(tenant, w))), nextPageToken: r.next };
    },
    async getWorkspace(req, ctx) {
      const tenant = tenantOf(ctx);
      const w = await workspaces.getWorkspace(d, tenant, req.workspaceId);
      const latest = (await read(d, (tx) => d.store.listDrift(tx, tenant, w.id, 1, 0)))[0];
      return { workspace: await view(tenant, w), drift: latest ? cv.workspaceDriftMessage(d, latest) : undefined };
    },
    async heartbeatWorkspace(req, ctx) {
      return { success: true, lastSeenAt: cv.ts(await workspaces.heartbeat(d, tenantOf(ctx), req.workspaceId)) };
    },
    async updateCurrentManifest(req, ctx) {
      const r = await workspaces.updateCurrentManifest(d, tenantOf(ctx), req.workspaceId, req.manifestHash, req.previousManifestHash);
      return { updated: r.updated, currentManifestHash: r.currentManifestHash, conflict: !r.updated };
    },
    async createDriftReport(req, ctx) {
      const r = await reportDrift(d, tenantOf(ctx), req.workspaceId, {
        filesAdded: req.filesAdded, filesModified: req.filesModified, filesDeleted: req.filesDeleted, bytesChanged: Number(req.bytesChanged), summary: req.summary,
      });
      return { driftReport: cv.driftMessage(r) };
    },
    async listDriftReports(req, ctx) {
      const r = await listDrift(d, tenantOf(ctx), req.workspaceId, req.limit, req.pageToken);
      const reports = r.items.map(cv.driftMessage);
      return { driftReports: reports, latest: req.pageToken === "" ? reports[0] : undefined, nextPageToken: r.next };
    },
    async compareWorkspaceDrift(req, ctx) {
      const tenant = tenantOf(ctx);
      const r = await compareDrift(d, tenant, req.workspaceId, req.sourceWorkspaceId, req.includeDirty);
      return {
        isMainWorkspace: r.isMain,
        sourceWorkspace: r.source ? await view(tenant, r.source) : undefined,
        drift: r.diff && {
          sourceManifestHash: r.diff.sourceManifestHash, targetManifestHash: r.diff.targetManifestHash, added: r.diff.added, modified: r.diff.modified, deleted: r.diff.deleted,
          filesAdded: r.diff.added.length, filesModified: r.diff.modified.length, filesDeleted: r.diff.deleted.length, bytesChanged: BigInt(r.diff.bytesChanged), includesDirty: r.diff.includesDirty,
        },
      };
    },
    async setMainWorkspace(req, ctx) {
      return { success: true, mainWorkspaceId: await workspaces.setMain(d, tenantOf(ctx), req.workspaceId) };
    },
    async prepareSync(req, ctx) {
      return { preview: cv.previewMessage(await prepareSync(d, tenantOf(ctx), req.workspaceId, req.includeDirty ?? true)) };
    },
    async executeSync(req, ctx) {
      const r = await executeSync(d, tenantOf(ctx), req.workspaceId, {
        previewId: req.previewId, decisions: req.decisions, createSnapshotBefore: req.createSnapshotBefore, createSnapshotAfter: req.createSnapshotAfter,
      });
      return { success: true, ...r, workspaceVersion: BigInt(r.workspaceVersion) };
    },
    async undoSync(req, ctx) {
      return { success: true, revertedToSnapshotId: await undoSync(d, tenantOf(ctx), req.workspaceId) };
    },
  };
}

/** SnapshotService: the snapshot DAG. */
export function snapshotService(d: WorkspaceDomain): Partial<ServiceImpl<typeof SnapshotService>> {
  return {
    async createSnapshot(req, ctx) {
      const r = await snapshots.createSnapshot(d, tenantOf(ctx), {
        projectId: req.projectId, manifestHash: req.manifestHash, snapshotId: req.snapshotId,
        parents: [...(req.parentSnapshotId ? [req.parentSnapshotId] : []), ...req.parentSnapshotIds], workspaceId: req.workspaceId, source: req.source, summary: req.summary, user: principalOf(ctx).user,
      });
      return { snapshot: cv.snapshotMessage(r.snapshot), created: r.created };
    },
    async listSnapshots(req, ctx) {
      const r = await snapshots.listSnapshots(d, tenantOf(ctx), { projectId: req.projectId }, req.limit, req.pageToken);
      return { snapshots: r.items.map(cv.snapshotMessage), nextPageToken: r.next };
    },
    async listWorkspaceSnapshots(req, ctx) {
      const r = await snapshots.listSnapshots(d, tenantOf(ctx), { workspaceId: req.workspaceId }, req.limit, req.pageToken);
      return { snapshots: r.items.map(cv.snapshotMessage), nextPageToken: r.next };
    },
    getSnapshot: async (req, ctx) => ({ snapshot: cv.snapshotMessage(await snapshots.getSnapshot(d, tenantOf(ctx), req.snapshotId)) }),
  };
}
