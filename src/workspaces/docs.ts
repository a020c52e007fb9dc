import { AppError, invalidArgument, notFound } from "../core/errors.ts";
import { loadManifest, readObject } from "./blobs.ts";
import type { WorkspaceDomain } from "./context.ts";
import type { FileEntry } from "./manifests.ts";
import { getProject } from "./projects.ts";
import { read } from "./events.ts";
import { getWorkspace, manifestOf } from "./workspaces.ts";

const DOC_EXTENSIONS = new Set([".md", ".mdx", ".markdown", ".txt", ".rst", ".adoc"]);
const DOC_NAMES = new Set(["readme", "license", "changelog", "contributing"]);
export const MAX_DOC_BYTES = 1024 * 1024;

export function isDoc(path: string): boolean {
  const name = path.slice(path.lastIndexOf("/") + 1).toLowerCase();
  const dot = name.lastIndexOf(".");
  return DOC_NAMES.has(dot > 0 ? name.slice(0, dot) : name) || (dot > 0 && DOC_EXTENSIONS.has(name.slice(dot)));
}

/** Documentation files of every workspace of a project, found by scanning their manifests. */
export async function listDocs(d: WorkspaceDomain, tenant: string, projectId: string) {
  await getProject(d, tenant, projectId);
  const out: { workspaceId: string; workspaceName: string; files: FileEntry[] }[] = [];
  for (const w of await read(d, (tx) => d.store.listWorkspaces(tx, tenant, projectId, 1000, 0))) {
    const hash = await manifestOf(d, w, true);
    const files = hash ? (await loadManifest(d, tenant, hash).catch(() => ({ files: [] as FileEntry[] }))).files.filter((f) => isDoc(f.path)) : [];
    out.push({ workspaceId: w.id, workspaceName: w.name, files });
  }
  return { workspaces: out, totalFiles: out.reduce((n, w) => n + w.files.length, 0) };
}

/** The text of one documentation file of a workspace. */
export async function docContent(d: WorkspaceDomain, tenant: string, projectId: string, workspaceId: string, path: string) {
  await getProject(d, tenant, projectId);
  if (!workspaceId) throw invalidArgument("workspace", "is required");
  if (!path) throw invalidArgument("path", "is required");
  const w = await getWorkspace(d, tenant, workspaceId);
  if (w.projectId !== projectId) throw notFound("WORKSPACE_NOT_FOUND", "Workspace not found", { workspace_id: workspaceId });
  const hash = await manifestOf(d, w, true);
  const file = hash ? (await loadManifest(d, tenant, hash)).files.find((f) => f.path === path) : undefined;
  if (!file || !isDoc(path)) throw notFound("DOC_NOT_FOUND", `No documentation file ${path} in this workspace`, { path });
  if (file.size > MAX_DOC_BYTES) throw new AppError("failed_precondition", "DOC_TOO_LARGE", `${path} is larger than ${MAX_DOC_BYTES} bytes`);
  const bytes = await readObject(d, tenant, "blob", file.hash);
  let content: string;
  try {
    content = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new AppError("failed_precondition", "DOC_NOT_TEXT", `${path} is not UTF-8 text`, { path });
  }
  return { content, path, workspaceId: w.id, workspaceName: w.name, size: bytes.byteLength };
}
