// Crash: the server runs as a child process and is SIGKILLed in the middle of a blob upload and in
// the middle of a sync execute; a restart on the same data dir shows no partial blob (nothing in
// tmp/, nothing under the hash, `exists` says missing) and the workspace at one of the two
// snapshots (before or after the sync), consistent with its manifest.
import { describe, expect, it } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, repoRoot, waitForHttp } from "../../src/testing/server.ts";
import { cliManifest, sha256 } from "./helpers/fastest-cli.ts";

function spawnServer(port: number, dataDir: string) {
  return Bun.spawn(["bun", join(repoRoot, "src/main.ts")], {
    env: { ...process.env, SWITCHYARD_PORT: String(port), SWITCHYARD_HOST: "127.0.0.1", SWITCHYARD_DATA_DIR: dataDir, SWITCHYARD_SHUTDOWN_GRACE_MS: "1000", SWITCHYARD_LOG_LEVEL: "warn" },
    stdout: "ignore",
    stderr: "ignore",
  });
}

const enc = (s: string) => new TextEncoder().encode(s);

describe("a workspace server killed mid-work", () => {
  it("keeps no partial blob after a SIGKILL during an upload, and leaves a workspace at one of two snapshots after a SIGKILL during sync execute", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "switchyard-ws-crash-"));
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const api = async (method: string, path: string, body?: unknown) => {
      const raw = body instanceof Uint8Array;
      const res = await fetch(url + path, { method, headers: raw || body === undefined ? {} : { "content-type": "application/json" }, body: raw ? (body as BodyInit) : body === undefined ? undefined : JSON.stringify(body) });
      return { status: res.status, json: (await res.json()) as any };
    };
    let proc = spawnServer(port, dataDir);
    try {
      await waitForHttp(`${url}/healthz`);

      // 1. An upload of 8 MiB sent slowly; the server dies after about 2 MiB arrived.
      const big = new Uint8Array(8 * 1024 * 1024).map((_, i) => i % 251);
      const hash = sha256(big);
      const sent = await new Promise<number>((resolve) => {
        let bytes = 0;
        const req = request(`${url}/v1/blobs/upload/${hash}`, { method: "PUT", headers: { "content-type": "application/octet-stream", "content-length": String(big.byteLength) } });
        req.on("error", () => resolve(bytes));
        const chunk = 256 * 1024;
        const pump = () => {
          if (bytes >= 2 * 1024 * 1024) {
            proc.kill("SIGKILL");
            return;
          }
          req.write(big.subarray(bytes, bytes + chunk), () => setTimeout(pump, 5));
          bytes += chunk;
        };
        pump();
      });
      expect(sent).toBeGreaterThanOrEqual(2 * 1024 * 1024);
      await proc.exited;
      proc = spawnServer(port, dataDir);
      await waitForHttp(`${url}/healthz`);
      expect((await api("POST", "/v1/blobs/exists", { hashes: [hash] })).json.missing).toEqual([hash]);
      expect(readdirSync(join(dataDir, "blobs", "tmp"))).toEqual([]);
      const blobDirs = readdirSync(join(dataDir, "blobs")).filter((d) => d !== "tmp");
      for (const ns of blobDirs) expect(existsSync(join(dataDir, "blobs", ns, "blobs", hash.slice(0, 2), hash))).toBe(false);

      // 2. A project: main and feature workspaces over 600 files, both edited, a prepared sync.
      const project = (await api("POST", "/v1/projects", { name: "crash" })).json.project;
      const main = (await api("POST", `/v1/projects/${project.id}/workspaces`, { name: "main" })).json.workspace;
      const tree = (edit: string) => Array.from({ length: 600 }, (_, i) => ({ path: `f${i}.txt`, content: enc(`line one ${i}\nline two ${i}${i % 2 === 0 ? edit : ""}\n`) }));
      const push = async (files: { path: string; content: Uint8Array }[]) => {
        const m = cliManifest(files);
        const seen = new Set<string>();
        const unique = files.filter((f) => !seen.has(sha256(f.content)) && seen.add(sha256(f.content)));
        for (let i = 0; i < unique.length; i += 50) {
          await Promise.all(unique.slice(i, i + 50).map((f) => fetch(`${url}/v1/blobs/upload/${sha256(f.content)}`, { method: "PUT", body: f.content as BodyInit }).then((r) => r.arrayBuffer())));
        }
        await fetch(`${url}/v1/blobs/manifests/${m.hash}`, { method: "PUT", body: m.bytes as BodyInit });
        return m.hash;
      };
      const baseHash = await push(tree(""));
      await api("POST", `/v1/projects/${project.id}/snapshots`, { manifest_hash: baseHash, snapshot_id: "base", workspace_id: main.id });
      const feature = (await api("POST", `/v1/projects/${project.id}/workspaces`, { name: "feature", base_snapshot_id: "base" })).json.workspace;
      await api("POST", `/v1/projects/${project.id}/snapshots`, { manifest_hash: await push(tree(" main")), snapshot_id: "main-2", parent_snapshot_ids: ["base"], workspace_id: main.id });
      const featHash = await push([...tree(""), { path: "feature.txt", content: enc("feature\n") }]);
      await api("POST", `/v1/projects/${project.id}/snapshots`, { manifest_hash: featHash, snapshot_id: "feat-2", parent_snapshot_ids: ["base"], workspace_id: feature.id });
      // Killed soon after the execute request (usually before its commit), then later (usually after).
      const outcomes: string[] = [];
      for (const delayMs of [3, 600]) {
        const before = (await api("GET", `/v1/workspaces/${feature.id}`)).json.workspace;
        const snapshotsBefore = (await api("GET", `/v1/workspaces/${feature.id}/snapshots`)).json.snapshots.length;
        const preview = (await api("POST", `/v1/workspaces/${feature.id}/sync/prepare`, {})).json.preview;
        if (delayMs === 3) expect(preview.auto_actions.length).toBe(300);
        const executing = fetch(`${url}/v1/workspaces/${feature.id}/sync/execute`, {
          method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ preview_id: preview.id }),
        }).then((r) => r.status, () => "killed");
        await Bun.sleep(delayMs);
        proc.kill("SIGKILL");
        const outcome = await executing;
        await proc.exited;
        proc = spawnServer(port, dataDir);
        await waitForHttp(`${url}/healthz`);

        const ws = (await api("GET", `/v1/workspaces/${feature.id}`)).json.workspace;
        const snapshots = (await api("GET", `/v1/workspaces/${feature.id}/snapshots`)).json.snapshots;
        if (ws.last_snapshot_id === before.last_snapshot_id) {
          // Before: nothing of the sync is visible.
          expect(ws.current_manifest_hash).toBe(before.current_manifest_hash);
          expect(snapshots.length).toBe(snapshotsBefore);
          expect(outcome).toBe("killed");
          outcomes.push("before");
        } else {
          // After: the merge snapshot, its manifest stored and current.
          const snap = (await api("GET", `/v1/snapshots/${ws.last_snapshot_id}`)).json.snapshot;
          expect(snap.parent_snapshot_ids).toEqual([before.last_snapshot_id, "main-2"]);
          expect(ws.current_manifest_hash).toBe(snap.manifest_hash);
          expect((await fetch(`${url}/v1/blobs/manifests/${snap.manifest_hash}`)).status).toBe(200);
          expect(snapshots.length).toBe(snapshotsBefore + 1);
          outcomes.push("after");
        }
        expect(["killed", 200]).toContain(outcome);
      }
      console.log(`sync execute killed twice: the workspace was found ${outcomes.join(", then ")} the sync`);
      // Either way the workspace can still sync.
      expect((await api("POST", `/v1/workspaces/${feature.id}/sync/prepare`, {})).status).toBe(200);
    } finally {
      proc.kill("SIGKILL");
      await proc.exited;
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 120_000);
});
