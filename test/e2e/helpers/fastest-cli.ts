// A replay of seed 002's Go CLI API client (`cli/internal/api/client.go` of ankitiscracked/fastest,
// before the cloud API was removed): the same paths, methods, headers and request bodies (as Go's
// json.Marshal with its `omitempty` tags writes them), the same status checks, and a decoder that
// refuses what Go's encoding/json would refuse for the fields the client declares (a number where
// a string is expected, an array where an object is, …). Only what the client decodes is checked.
import { createHash } from "node:crypto";

/** Go field kinds the client's structs declare. */
type GoType = "string" | "*string" | "bool" | "int" | "int64" | "[]string" | "map[string]string" | { struct: GoStruct } | { slice: GoStruct } | { ptr: GoStruct } | { map: GoStruct };
type GoStruct = Record<string, GoType>;

const MergeRecord: GoStruct = { last_merged_snapshot: "string", merged_at: "string" };
export const Project: GoStruct = { id: "string", owner_user_id: "string", name: "string", created_at: "string", updated_at: "string", last_snapshot_id: "*string", main_workspace_id: "*string" };
export const Workspace: GoStruct = {
  id: "string", project_id: "string", name: "string", machine_id: "*string", fork_snapshot_id: "*string", current_snapshot_id: "*string",
  current_manifest_hash: "*string", local_path: "*string", last_seen_at: "*string", created_at: "string", merge_history: { map: MergeRecord },
};
export const Snapshot: GoStruct = {
  id: "string", project_id: "string", workspace_id: "*string", manifest_hash: "string", parent_snapshot_id: "*string", source: "string", summary: "*string", created_at: "string",
};
export const DriftReport: GoStruct = {
  id: "string", workspace_id: "string", files_added: "[]string", files_modified: "[]string", files_deleted: "[]string", bytes_changed: "int64", summary: "string", reported_at: "string",
};

/** Go's json.Unmarshal into `type`: throws what Go would report as an UnmarshalTypeError. */
export function goDecode(value: unknown, type: GoType, at = "$"): void {
  if (value === null || value === undefined) return; // null leaves the zero value; absent keys too
  const fail = () => {
    throw new Error(`json: cannot unmarshal ${Array.isArray(value) ? "array" : typeof value} into Go value ${JSON.stringify(type)} at ${at}`);
  };
  if (type === "string" || type === "*string") return void (typeof value !== "string" && fail());
  if (type === "bool") return void (typeof value !== "boolean" && fail());
  if (type === "int" || type === "int64") return void ((typeof value !== "number" || !Number.isInteger(value)) && fail());
  if (type === "[]string") {
    if (!Array.isArray(value)) fail();
    return (value as unknown[]).forEach((v, i) => goDecode(v, "string", `${at}[${i}]`));
  }
  if (type === "map[string]string") {
    if (typeof value !== "object" || Array.isArray(value)) fail();
    return Object.entries(value as object).forEach(([k, v]) => goDecode(v, "string", `${at}.${k}`));
  }
  if ("slice" in type) {
    if (!Array.isArray(value)) fail();
    return (value as unknown[]).forEach((v, i) => goDecode(v, { struct: type.slice }, `${at}[${i}]`));
  }
  if ("map" in type) {
    if (typeof value !== "object" || Array.isArray(value)) fail();
    return Object.entries(value as object).forEach(([k, v]) => goDecode(v, { struct: type.map }, `${at}.${k}`));
  }
  const struct = "struct" in type ? type.struct : type.ptr;
  if (typeof value !== "object" || Array.isArray(value)) fail();
  for (const [k, t] of Object.entries(struct)) goDecode((value as Record<string, unknown>)[k], t, `${at}.${k}`);
}

export class CliError extends Error {}

/** The client, method for method. */
export function fastestCli(baseURL: string, token: string) {
  const auth = { Authorization: `Bearer ${token}` };
  const json = { ...auth, "Content-Type": "application/json" };
  async function req(method: string, path: string, body?: string | Uint8Array, headers: Record<string, string> = auth) {
    return fetch(baseURL + path, { method, headers, body: body as BodyInit | undefined });
  }
  const decode = async (res: Response, shape: GoStruct) => {
    const body = await res.json();
    goDecode(body, { struct: shape });
    return body as Record<string, unknown>;
  };
  return {
    async createProject(name: string) {
      const res = await req("POST", "/v1/projects", JSON.stringify({ name }), json);
      if (res.status === 401) throw new CliError("not authenticated - run 'fst login' first");
      if (res.status !== 201) throw new CliError(`failed to create project: ${await res.text()}`);
      return (await decode(res, { project: { struct: Project } })).project as Record<string, unknown>;
    },
    async listProjects() {
      const res = await req("GET", "/v1/projects");
      if (res.status !== 200) throw new CliError(`unexpected status: ${res.status}`);
      return (await decode(res, { projects: { slice: Project } })).projects as Record<string, unknown>[];
    },
    async getProject(id: string) {
      const res = await req("GET", `/v1/projects/${id}`);
      if (res.status === 404) throw new CliError("project not found");
      if (res.status !== 200) throw new CliError(`unexpected status: ${res.status}`);
      const b = await decode(res, { project: { struct: Project }, workspaces: { slice: Workspace } });
      return { project: b.project as Record<string, unknown>, workspaces: b.workspaces as Record<string, unknown>[] };
    },
    async getWorkspace(id: string) {
      const res = await req("GET", `/v1/workspaces/${id}`);
      if (res.status === 404) throw new CliError("workspace not found");
      if (res.status !== 200) throw new CliError(`failed to fetch workspace: ${await res.text()}`);
      return (await decode(res, { workspace: { struct: Workspace } })).workspace as Record<string, unknown>;
    },
    /** `CreateWorkspaceRequest` with `omitempty` pointers: absent when not given. */
    async createWorkspace(projectId: string, r: { name: string; machine_id?: string; fork_snapshot_id?: string; local_path?: string }) {
      const res = await req("POST", `/v1/projects/${projectId}/workspaces`, JSON.stringify(r), json);
      if (res.status !== 201) throw new CliError(`failed to create workspace: ${await res.text()}`);
      return (await decode(res, { workspace: { struct: Workspace } })).workspace as Record<string, unknown>;
    },
    async sendHeartbeat(id: string) {
      const res = await req("POST", `/v1/workspaces/${id}/heartbeat`);
      if (res.status !== 200) throw new CliError(`heartbeat failed: status ${res.status}`);
    },
    async setMainWorkspace(id: string) {
      const res = await req("POST", `/v1/workspaces/${id}/set-as-main`);
      if (res.status !== 200) throw new CliError(`failed to set main workspace: ${await res.text()}`);
    },
    /** Go's struct order: snapshot_id, manifest_hash, parent_snapshot_id, workspace_id, source ("cli"). */
    async createSnapshot(projectId: string, snapshotId: string, manifestHash: string, parentSnapshotId: string, workspaceId: string) {
      const body: Record<string, string> = {};
      if (snapshotId) body.snapshot_id = snapshotId;
      body.manifest_hash = manifestHash;
      if (parentSnapshotId) body.parent_snapshot_id = parentSnapshotId;
      if (workspaceId) body.workspace_id = workspaceId;
      body.source = "cli";
      const res = await req("POST", `/v1/projects/${projectId}/snapshots`, JSON.stringify(body), json);
      if (res.status !== 200 && res.status !== 201) throw new CliError(`failed to create snapshot: ${await res.text()}`);
      const b = await decode(res, { snapshot: { struct: Snapshot }, created: "bool" });
      return { snapshot: b.snapshot as Record<string, unknown>, created: b.created as boolean, status: res.status };
    },
    async getSnapshot(id: string) {
      const res = await req("GET", `/v1/snapshots/${id}`);
      if (res.status === 404) throw new CliError("snapshot not found");
      if (res.status !== 200) throw new CliError(`failed to get snapshot: ${await res.text()}`);
      return (await decode(res, { snapshot: { struct: Snapshot } })).snapshot as Record<string, unknown>;
    },
    async blobExists(hashes: string[]) {
      const res = await req("POST", "/v1/blobs/exists", JSON.stringify({ hashes }), json);
      if (res.status !== 200) throw new CliError(`failed to check blobs: ${await res.text()}`);
      return (await decode(res, { missing: "[]string" })).missing as string[];
    },
    async presignUpload(hashes: string[]) {
      const res = await req("POST", "/v1/blobs/presign-upload", JSON.stringify({ hashes }), json);
      if (res.status !== 200) throw new CliError(`failed to presign upload: ${await res.text()}`);
      return (await decode(res, { urls: "map[string]string" })).urls as Record<string, string>;
    },
    async presignDownload(hashes: string[]) {
      const res = await req("POST", "/v1/blobs/presign-download", JSON.stringify({ hashes }), json);
      if (res.status !== 200) throw new CliError(`failed to presign download: ${await res.text()}`);
      return (await decode(res, { urls: "map[string]string" })).urls as Record<string, string>;
    },
    async uploadBlob(url: string, data: Uint8Array) {
      const res = await req("PUT", url, data, { ...auth, "Content-Type": "application/octet-stream" });
      if (res.status !== 200 && res.status !== 201) throw new CliError(`failed to upload blob: ${await res.text()}`);
      await res.arrayBuffer();
      return res.status;
    },
    async downloadBlob(url: string) {
      const res = await req("GET", url);
      if (res.status !== 200) throw new CliError(`failed to download blob: ${await res.text()}`);
      return new Uint8Array(await res.arrayBuffer());
    },
    async uploadManifest(hash: string, manifestJSON: Uint8Array) {
      const res = await req("PUT", `/v1/blobs/manifests/${hash}`, manifestJSON, json);
      if (res.status !== 200 && res.status !== 201) throw new CliError(`failed to upload manifest: ${await res.text()}`);
      await res.arrayBuffer();
      return res.status;
    },
    async downloadManifest(hash: string) {
      const res = await req("GET", `/v1/blobs/manifests/${hash}`);
      if (res.status !== 200) throw new CliError(`failed to download manifest: ${await res.text()}`);
      return new Uint8Array(await res.arrayBuffer());
    },
    /** GetWorkspaceDrift: 404 is "no drift data"; decodes `{ drift_reports, latest }` into DriftReport. */
    async getWorkspaceDrift(id: string) {
      const res = await req("GET", `/v1/workspaces/${id}/drift`);
      if (res.status === 404) return null;
      if (res.status !== 200) throw new CliError(`unexpected status: ${res.status}`);
      const body = (await res.json()) as Record<string, unknown>;
      return body;
    },
    async reportDrift(id: string, added: number, modified: number, deleted: number, bytes: number, summary: string) {
      // A Go map: json.Marshal writes its keys sorted.
      const body: Record<string, unknown> = { bytes_changed: bytes, files_added: added, files_deleted: deleted, files_modified: modified };
      if (summary) body.summary = summary;
      const res = await req("POST", `/v1/workspaces/${id}/drift`, JSON.stringify(body), json);
      if (res.status !== 200 && res.status !== 201) throw new CliError(`failed to report drift: ${await res.text()}`);
      return res.status;
    },
  };
}

/** The CLI's manifest JSON (Go struct order `version`, `files` of `path, hash, size, mode`). */
export function cliManifest(files: { path: string; content: Uint8Array }[]): { bytes: Uint8Array; hash: string; entries: { path: string; hash: string; size: number; mode: number }[] } {
  const entries = files
    .map((f) => ({ path: f.path, hash: sha256(f.content), size: f.content.byteLength, mode: 420 }))
    .sort((a, b) => (a.path < b.path ? -1 : 1));
  const bytes = new TextEncoder().encode(JSON.stringify({ version: "1", files: entries }));
  return { bytes, hash: sha256(bytes), entries };
}

export const sha256 = (b: Uint8Array | string) => createHash("sha256").update(b).digest("hex");
