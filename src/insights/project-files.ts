import { loadManifest } from "../workspaces/blobs.ts";
import { findSnapshot } from "../workspaces/snapshots.ts";
import { getProject } from "../workspaces/projects.ts";
import type { FileEntry } from "../workspaces/manifests.ts";
import { getWorkspace, manifestOf } from "../workspaces/workspaces.ts";
import type { InsightsDomain } from "./context.ts";

/** The files of a project's latest state: its last snapshot's manifest (else its main workspace's). */
export async function projectManifest(d: InsightsDomain, tenant: string, projectId: string): Promise<{ hash: string; files: FileEntry[] } | undefined> {
  const project = await getProject(d.workspaces, tenant, projectId);
  let hash = project.lastSnapshotId ? (await findSnapshot(d.workspaces, tenant, project.lastSnapshotId))?.manifestHash : undefined;
  if (!hash && project.mainWorkspaceId) hash = await manifestOf(d.workspaces, await getWorkspace(d.workspaces, tenant, project.mainWorkspaceId), true);
  if (!hash) return undefined;
  return { hash, files: (await loadManifest(d.workspaces, tenant, hash)).files };
}

export async function projectFiles(d: InsightsDomain, tenant: string, projectId: string): Promise<string[]> {
  return (await projectManifest(d, tenant, projectId))?.files.map((f) => f.path).sort() ?? [];
}
