// Tenant isolation of the workspace domain over REST (seed 002's routes) and gRPC: two service
// tokens in two tenants; every route of one tenant tried with the other's token answers
// NOT_FOUND (never 403), lists are empty, and blobs deduplicate per tenant only.
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { ProjectService } from "../../gen/switchyard/workspaces/v1/project_service_pb.js";
import { clientFor } from "../../src/testing/clients.ts";
import { startTestServer, type TestServer } from "../../src/testing/server.ts";
import { cliManifest, sha256 } from "./helpers/fastest-cli.ts";

const A = "token-of-tenant-a-0123456789";
const B = "token-of-tenant-b-0123456789";
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ SWITCHYARD_SERVICE_TOKENS: `a:tenant-a::${A},b:tenant-b::${B}` });
});
afterAll(() => server.close());

async function api(token: string, method: string, path: string, body?: unknown) {
  const raw = body instanceof Uint8Array;
  const res = await fetch(server.url + path, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined && !raw ? { "content-type": "application/json" } : {}) },
    body: body === undefined ? undefined : raw ? (body as unknown as BodyInit) : JSON.stringify(body),
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, json };
}

describe("workspaces across tenants", () => {
  it("answers NOT_FOUND on every route of another tenant's project, workspace, snapshot, blob and env var", async () => {
    const content = new TextEncoder().encode("tenant a's secret file");
    const hash = sha256(content);
    expect((await api(A, "PUT", `/v1/blobs/upload/${hash}`, content)).status).toBe(201);
    const m = cliManifest([{ path: "secret.txt", content }]);
    expect((await api(A, "PUT", `/v1/blobs/manifests/${m.hash}`, m.bytes)).status).toBe(201);
    const project = (await api(A, "POST", "/v1/projects", { name: "a-only" })).json.project;
    const ws = (await api(A, "POST", `/v1/projects/${project.id}/workspaces`, { name: "main" })).json.workspace;
    expect((await api(A, "POST", `/v1/projects/${project.id}/snapshots`, { manifest_hash: m.hash, snapshot_id: "a-s1", workspace_id: ws.id })).status).toBe(201);
    expect((await api(A, "POST", `/v1/projects/${project.id}/env-vars`, { key: "TOKEN", value: "a-secret-value", is_secret: true })).status).toBeLessThan(300);

    const reads: [string, string][] = [
      ["GET", `/v1/projects/${project.id}`],
      ["GET", `/v1/projects/${project.id}/status`],
      ["GET", `/v1/projects/${project.id}/events`],
      ["GET", `/v1/projects/${project.id}/snapshots`],
      ["GET", `/v1/projects/${project.id}/env-vars`],
      ["GET", `/v1/projects/${project.id}/env-vars/values`],
      ["GET", `/v1/workspaces/${ws.id}`],
      ["GET", `/v1/workspaces/${ws.id}/snapshots`],
      ["GET", `/v1/snapshots/a-s1`],
      ["GET", `/v1/blobs/download/${hash}`],
      ["GET", `/v1/blobs/manifests/${m.hash}`],
    ];
    for (const [method, path] of reads) {
      const own = await api(A, method, path);
      expect({ path, status: own.status }).toEqual({ path, status: 200 });
      const other = await api(B, method, path);
      expect({ path, status: other.status }).toEqual({ path, status: 404 });
    }
    const writes: [string, string, unknown][] = [
      ["POST", `/v1/projects/${project.id}/workspaces`, { name: "intruder" }],
      ["POST", `/v1/projects/${project.id}/snapshots`, { manifest_hash: m.hash, snapshot_id: "b-s1" }],
      ["POST", `/v1/projects/${project.id}/env-vars`, { key: "X", value: "y" }],
      ["DELETE", `/v1/projects/${project.id}/env-vars/TOKEN`, undefined],
      ["POST", `/v1/workspaces/${ws.id}/heartbeat`, undefined],
      ["POST", `/v1/workspaces/${ws.id}/drift`, { files_added: 1 }],
    ];
    for (const [method, path, body] of writes) {
      const other = await api(B, method, path, body);
      expect({ path, status: other.status }).toEqual({ path, status: 404 });
    }
    // Lists and existence checks show nothing of the other tenant.
    expect((await api(B, "GET", "/v1/projects")).json.projects).toEqual([]);
    expect((await api(B, "POST", "/v1/blobs/exists", { hashes: [hash] })).json.existing).toEqual([]);
    // Blobs deduplicate within a tenant only: B storing the same bytes is a new blob of its own.
    expect((await api(B, "PUT", `/v1/blobs/upload/${hash}`, content)).json.created).toBe(true);
    expect((await api(A, "PUT", `/v1/blobs/upload/${hash}`, content)).json.created).toBe(false);
    // Nothing of A's changed through B's attempts.
    expect((await api(A, "GET", `/v1/projects/${project.id}/env-vars/values`)).json.variables).toEqual([{ key: "TOKEN", value: "a-secret-value", is_secret: true }]);
    expect((await api(A, "GET", `/v1/projects/${project.id}`)).json.workspaces.map((w: { name: string }) => w.name)).toEqual(["main"]);
    // And over gRPC.
    const grpcB = clientFor(ProjectService, server.url, "grpc", B);
    const e = await grpcB.getProject({ projectId: project.id }).then(
      () => undefined,
      (x: unknown) => ConnectError.from(x),
    );
    expect(e?.code).toBe(Code.NotFound);
  });
});
