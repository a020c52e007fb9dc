import { AppError, invalidArgument, notFound } from "../core/errors.ts";
import { newId } from "../core/ids.ts";
import { checkHash } from "./blobs.ts";
import type { WorkspaceDomain } from "./context.ts";
import { read, write } from "./events.ts";
import { checkName, checkRequestId, getProject, page } from "./projects.ts";
import type { Workspace } from "./types.ts";

/** Most workspaces one project holds. */
export const MAX_WORKSPACES = 100;

/** A workspace of the tenant, or WORKSPACE_NOT_FOUND. */
export async function getWorkspace(d: WorkspaceDomain, tenant: string, id: string): Promise<Workspace> {
  const w = id ? await read(d, (tx) => d.store.getWorkspace(tx, tenant, id)) : undefined;
  if (!w) throw notFound("WORKSPACE_NOT_FOUND", "Workspace not found", { workspace_id: id });
  return w;
}

function optional(value: string | undefined, field: string, max: number): string {
  const v = value ?? "";
  if (v.length > max) throw invalidArgument(field, `at most ${max} characters`);
  return v;
}

export async function createWorkspace(
  d: WorkspaceDomain,
  tenant: string,
  input: { projectId: string; name: string; machineId?: string; baseSnapshotId?: string; localPath?: string; requestId: string; user?: string },
): Promise<Workspace> {
  const project = await getProject(d, tenant, input.projectId);
  const name = checkName(input.name);
  const machineId = optional(input.machineId, "machine_id", 256);
  const localPath = optional(input.localPath, "local_path", 4096);
  const requestId = checkRequestId(input.requestId);
  const base = input.baseSnapshotId || null;
  if (base) {
    const s = await read(d, (tx) => d.store.getSnapshot(tx, tenant, base));
    if (!s || s.projectId !== project.id) throw notFound("SNAPSHOT_NOT_FOUND", "Base snapshot not found", { snapshot_id: base });
  }
  return write(d, tenant, function* (tx, emit) {
    // The project row is locked first (PostgreSQL): instances creating workspaces of one project
    // take turns, so the limit and the "first one is main" rule hold across them.
    const locked = yield* d.store.lockProject(tx, tenant, project.id);
    if (requestId) {
      const prior = yield* d.store.workspaceByRequest(tx, tenant, requestId);
      if (prior) return prior;
    }
    if ((yield* d.store.listWorkspaces(tx, tenant, project.id, MAX_WORKSPACES + 1, 0)).length >= MAX_WORKSPACES) {
      throw new AppError("resource_exhausted", "WORKSPACE_LIMIT_EXCEEDED", `a project holds at most ${MAX_WORKSPACES} workspaces`, { limit: String(MAX_WORKSPACES) });
    }
    const now = d.clock.now();
    const w: Workspace = {
      tenant, id: newId("ws", now), projectId: project.id, createdBy: input.user ?? "", name, machineId, localPath, baseSnapshotId: base, lastSnapshotId: base,
      currentManifestHash: null, version: 1, mergeHistory: {}, lastSeenAt: now, createdAt: now, updatedAt: now,
    };
    if (!(yield* d.store.insertWorkspace(tx, w, requestId))) return (yield* d.store.workspaceByRequest(tx, tenant, requestId!))!;
    // The first workspace of a project becomes its main one.
    const main = locked!.mainWorkspaceId;
    yield* d.store.updateProject(tx, tenant, project.id, main ? {} : { mainWorkspaceId: w.id }, now);
    yield* emit(project.id, w.id, "workspace.created", `Workspace ${name} created`);
    return w;
  });
}

export async function listWorkspaces(d: WorkspaceDomain, tenant: string, projectId: string, pageSize: number, pageToken: string) {
  await getProject(d, tenant, projectId);
  const { limit, offset } = page(pageSize, pageToken, 100, 1000);
  const items = await read(d, (tx) => d.store.listWorkspaces(tx, tenant, projectId, limit + 1, offset));
  return { items: items.slice(0, limit), next: items.length > limit ? String(offset + limit) : "" };
}

export async function heartbeat(d: WorkspaceDomain, tenant: string, id: string): Promise<number> {
  await getWorkspace(d, tenant, id);
  const now = d.clock.now();
  await d.database.write((tx) => d.store.touchWorkspace(tx, tenant, id, now));
  return now;
}

export async function setMain(d: WorkspaceDomain, tenant: string, id: string): Promise<string> {
  const w = await getWorkspace(d, tenant, id);
  await write(d, tenant, function* (tx, emit) {
    yield* d.store.updateProject(tx, tenant, w.projectId, { mainWorkspaceId: w.id }, d.clock.now());
    yield* emit(w.projectId, w.id, "workspace.set_main", `Workspace ${w.name} is now main`);
  });
  return w.id;
}

/**
 * Moves the workspace's current (dirty) manifest to `hash` only if it is still `previous` (or
 * unset): the lost race is an outcome (`updated: false`) with the hash that won.
 */
export async function updateCurrentManifest(d: WorkspaceDomain, tenant: string, id: string, hash: string, previous: string | undefined) {
  checkHash(hash, "manifest_hash");
  if (previous) checkHash(previous, "previous_manifest_hash");
  const w = await getWorkspace(d, tenant, id);
  const updated = await write(d, tenant, function* (tx, emit) {
    const ok = yield* d.store.casCurrentManifest(tx, tenant, id, hash, previous ?? null, d.clock.now());
    if (ok) yield* emit(w.projectId, id, "workspace.manifest_updated", `Workspace ${w.name} has a new current manifest`, { manifest_hash: hash });
    return ok;
  });
  return { updated, currentManifestHash: (await getWorkspace(d, tenant, id)).currentManifestHash ?? "" };
}

/** The manifest a workspace stands at: its current (dirty) one when asked and set, else its last snapshot's. */
export async function manifestOf(d: WorkspaceDomain, w: Workspace, includeDirty: boolean): Promise<string | undefined> {
  if (includeDirty && w.currentManifestHash) return w.currentManifestHash;
  if (w.lastSnapshotId) {
    const id = w.lastSnapshotId;
    return (await read(d, (tx) => d.store.getSnapshot(tx, w.tenant, id)))?.manifestHash;
  }
  return w.currentManifestHash ?? undefined;
}

/** A workspace of the tenant, or undefined (for other domains that treat absence as an outcome). */
export function findWorkspace(d: WorkspaceDomain, tenant: string, id: string): Promise<Workspace | undefined> {
  return read(d, (tx) => d.store.getWorkspace(tx, tenant, id));
}
