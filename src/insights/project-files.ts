import { loadManifest } from "../workspaces/blobs.ts";
import { getProject } from "../workspaces/projects.ts";
import type { FileEntry } from "../workspaces/manifests.ts";
import { getWorkspace, manifestOf } from "../workspaces/workspaces.ts";
import { getSnapshot } from "../workspaces/snapshots.ts";
import { maybe } from "./checks.ts";
import type { InsightsDomain } from "./context.ts";

/** The files of a project's latest state: its last snapshot's manifest (else its main workspace's). */
export async function projectManifest(d: InsightsDomain, tenant: string, projectId: string): Promise<{ hash: string; files: FileEntry[] } | undefined> {
  const project = await getProject(d.workspaces, tenant, projectId);
  let hash = project.lastSnapshotId ? (await maybe(() => getSnapshot(d.workspaces, tenant, project.lastSnapshotId!)))?.manifestHash : undefined;
  if (!hash && project.mainWorkspaceId) hash = await manifestOf(d.workspaces, await getWorkspace(d.workspaces, tenant, project.mainWorkspaceId), true);
  if (!hash) return undefined;
  return { hash, files: (await loadManifest(d.workspaces, tenant, hash)).files };
}

export async function projectFiles(d: InsightsDomain, tenant: string, projectId: string): Promise<string[]> {
  return (await projectManifest(d, tenant, projectId))?.files.map((f) => f.path).sort() ?? [];
}
