import { invalidArgument } from "../core/errors.ts";
import { newId } from "../core/ids.ts";
import { loadManifest } from "./blobs.ts";
import type { WorkspaceDomain } from "./context.ts";
import { read, write } from "./events.ts";
import { diffFiles, fileMap } from "./manifests.ts";
import { getProject, page } from "./projects.ts";
import type { DriftReport, Workspace } from "./types.ts";
import { getWorkspace, manifestOf } from "./workspaces.ts";

/** A drift report older than this is stale. */
export const STALE_AFTER_MS = 24 * 3600 * 1000;

const count = (n: number, field: string) => {
  if (!Number.isSafeInteger(n) || n < 0) throw invalidArgument(field, "must be a whole number, not negative");
  return n;
};

/** Records what the CLI measured; an event when anything drifted. */
export async function reportDrift(
  d: WorkspaceDomain,
  tenant: string,
  workspaceId: string,
  input: { filesAdded: number; filesModified: number; filesDeleted: number; bytesChanged: number; summary?: string },
): Promise<DriftReport> {
  const w = await getWorkspace(d, tenant, workspaceId);
  if ((input.summary ?? "").length > 10_000) throw invalidArgument("summary", "at most 10000 characters");
  const r: DriftReport = {
    id: newId("drift", d.clock.now()),
    workspaceId,
    filesAdded: count(input.filesAdded, "files_added"),
    filesModified: count(input.filesModified, "files_modified"),
    filesDeleted: count(input.filesDeleted, "files_deleted"),
    bytesChanged: count(input.bytesChanged, "bytes_changed"),
    summary: input.summary ?? "",
    createdAt: d.clock.now(),
  };
  await write(d, tenant, function* (tx, emit) {
    yield* d.store.insertDrift(tx, tenant, r);
    yield* d.store.touchWorkspace(tx, tenant, workspaceId, r.createdAt);
    if (r.filesAdded + r.filesModified + r.filesDeleted > 0) {
      yield* emit(w.projectId, workspaceId, "drift.reported", `Drift: +${r.filesAdded} ~${r.filesModified} -${r.filesDeleted}`, { drift_report_id: r.id });
    }
  });
  return r;
}

export async function listDrift(d: WorkspaceDomain, tenant: string, workspaceId: string, limit: number, pageToken: string) {
  await getWorkspace(d, tenant, workspaceId);
  const { limit: n, offset } = page(limit, pageToken, 10, 100, "limit");
  const items = await read(d, (tx) => d.store.listDrift(tx, tenant, workspaceId, n + 1, offset));
  return { items: items.slice(0, n), next: items.length > n ? String(offset + n) : "" };
}

/**
 * A drift report with what seed 002 derives from it: overlap ratio (files modified among those
 * touched — modified files may collide with other workspaces, added ones rarely do), a risk
 * level (high: ≥ 20 modified or overlap > 0.5 with ≥ 5 modified; medium: any modified or ≥ 50
 * touched; else low), its age and whether it is older than a day.
 */
export function enrichDrift(d: WorkspaceDomain, r: DriftReport) {
  const touched = r.filesAdded + r.filesModified;
  const overlapRatio = touched === 0 ? 0 : Math.round((r.filesModified / touched) * 1000) / 1000;
  const risk = r.filesModified >= 20 || (overlapRatio > 0.5 && r.filesModified >= 5) ? "high" : r.filesModified > 0 || touched >= 50 ? "medium" : "low";
  const stalenessMs = Math.max(0, d.clock.now() - r.createdAt);
  return { report: r, overlapRatio, riskLevel: risk, stalenessMs, isStale: stalenessMs > STALE_AFTER_MS };
}

/**
 * File-level differences of a workspace against another (default: the project's main one),
 * from their manifests: `added` are files the source has and the workspace lacks, and so on —
 * what a sync from the source would change. `includeDirty` uses current (unsnapshotted) manifests.
 */
export async function compareDrift(d: WorkspaceDomain, tenant: string, workspaceId: string, sourceId: string | undefined, includeDirty: boolean) {
  const w = await getWorkspace(d, tenant, workspaceId);
  const project = await getProject(d, tenant, w.projectId);
  const otherId = sourceId || project.mainWorkspaceId;
  const isMain = !sourceId && project.mainWorkspaceId === w.id;
  if (!otherId || otherId === w.id) return { diff: undefined, isMain, source: undefined as Workspace | undefined };
  const source = await getWorkspace(d, tenant, otherId);
  if (source.projectId !== w.projectId) throw invalidArgument("source_workspace_id", "must be a workspace of the same project");
  const ours = await manifestOf(d, w, includeDirty);
  const theirs = await manifestOf(d, source, includeDirty);
  const load = async (h: string | undefined) => (h ? fileMap(await loadManifest(d, tenant, h)) : new Map());
  const diff = diffFiles(await load(ours), await load(theirs));
  return { diff: { ...diff, sourceManifestHash: theirs ?? "", targetManifestHash: ours ?? "", includesDirty: includeDirty }, isMain, source };
}

/** Counts of paths by extension (`.ts`, `.md`, `(none)`). */
export function countByExtension(paths: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of paths) {
    const name = p.slice(p.lastIndexOf("/") + 1);
    const dot = name.lastIndexOf(".");
    const ext = dot > 0 ? name.slice(dot).toLowerCase() : "(none)";
    out[ext] = (out[ext] ?? 0) + 1;
  }
  return out;
}
