// Workspaces benchmark: blob upload/download MB/s through a real server process (REST byte
// routes; the server hashes while receiving, the client hashes what it downloads) beside
// `sha256sum` of the same bytes; `exists` with 100 hashes; prepare-sync of 10,000-file manifests;
// GC over 100,000 blobs (domain level). Run: `bun bench/workspaces.ts` or `bun run bench workspaces`.
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort, repoRoot, waitForHttp } from "../src/testing/server.ts";
import { namespaceOf } from "../src/workspaces/context.ts";
import { collectGarbage } from "../src/workspaces/gc.ts";
import { canonicalManifest } from "../src/workspaces/manifests.ts";
import { storeBytes } from "../src/workspaces/blobs.ts";
import { testDomain } from "../src/workspaces/testing.ts";

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * q))]!;
const mb = (bytes: number) => bytes / 1048576;

async function startServer(dataDir: string) {
  const port = await freePort();
  const child = Bun.spawn(["bun", join(repoRoot, "src/main.ts")], {
    env: { ...process.env, SWITCHYARD_PORT: String(port), SWITCHYARD_HOST: "127.0.0.1", SWITCHYARD_DATA_DIR: dataDir, SWITCHYARD_LOG_LEVEL: "warn", SWITCHYARD_BLOB_MAX_BYTES: String(256 * 1024 * 1024) },
    stdout: "ignore",
    stderr: "inherit",
  });
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/readyz`);
  return { url, stop: async () => (child.kill("SIGTERM"), await child.exited) };
}

async function sha256sumMBps(bytes: Uint8Array, dir: string): Promise<number> {
  const file = join(dir, `sum-${bytes.byteLength}`);
  writeFileSync(file, bytes);
  const runs: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    const p = Bun.spawnSync(["sha256sum", file]);
    runs.push(performance.now() - t);
    if (p.exitCode !== 0) throw new Error("sha256sum failed");
  }
  return mb(bytes.byteLength) / (quantile(runs, 0.5) / 1000);
}

export interface TransferRow {
  size: string;
  uploadMBps: number;
  downloadMBps: number;
  sha256sumMBps: number;
}

async function transfer(url: string, size: number, reps: number, dir: string): Promise<TransferRow> {
  const blobs = Array.from({ length: reps }, () => new Uint8Array(randomBytes(size)));
  const hashes = blobs.map(sha);
  let t = performance.now();
  for (let i = 0; i < reps; i++) {
    const res = await fetch(`${url}/v1/blobs/upload/${hashes[i]}`, { method: "PUT", body: blobs[i] as BodyInit, headers: { "content-type": "application/octet-stream" } });
    if (res.status !== 201) throw new Error(`upload ${res.status} ${await res.text()}`);
  }
  const up = (performance.now() - t) / 1000;
  t = performance.now();
  for (let i = 0; i < reps; i++) {
    const res = await fetch(`${url}/v1/blobs/download/${hashes[i]}`);
    const hasher = createHash("sha256");
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) hasher.update(chunk);
    if (hasher.digest("hex") !== hashes[i]) throw new Error("download hash mismatch");
  }
  const down = (performance.now() - t) / 1000;
  return { size: size >= 1048576 ? `${size / 1048576} MiB` : `${size} B`, uploadMBps: (mb(size) * reps) / up, downloadMBps: (mb(size) * reps) / down, sha256sumMBps: await sha256sumMBps(blobs[0]!, dir) };
}

async function existsP50(url: string): Promise<number> {
  const have: string[] = [];
  for (let i = 0; i < 50; i++) {
    const b = new Uint8Array(randomBytes(64));
    have.push(sha(b));
    await fetch(`${url}/v1/blobs/upload/${sha(b)}`, { method: "PUT", body: b as BodyInit });
  }
  const hashes = [...have, ...Array.from({ length: 50 }, () => sha(new Uint8Array(randomBytes(8))))];
  const times: number[] = [];
  for (let i = 0; i < 300; i++) {
    const t = performance.now();
    const res = await fetch(`${url}/v1/blobs/exists`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ hashes }) });
    await res.json();
    if (i >= 50) times.push(performance.now() - t);
  }
  return quantile(times, 0.5);
}

/** 10,000-file manifests over 200 distinct texts: main edits 500 paths, the workspace 500 (100 of them the same paths, in other lines). */
async function prepareP50(url: string): Promise<{ p50: number; auto: number; decisions: number }> {
  const api = async (method: string, path: string, body?: unknown) => {
    const raw = body instanceof Uint8Array;
    const res = await fetch(url + path, { method, headers: raw ? {} : { "content-type": "application/json" }, body: raw ? (body as BodyInit) : JSON.stringify(body ?? {}) });
    return (await res.json()) as any;
  };
  const texts = Array.from({ length: 200 }, (_, i) => new TextEncoder().encode(Array.from({ length: 30 }, (_, j) => `text ${i} line ${j}`).join("\n")));
  const edited = (i: number, at: number) => {
    const ls = new TextDecoder().decode(texts[i % 200]!).split("\n");
    ls[at] = `edited ${i} at ${at}`;
    return new TextEncoder().encode(ls.join("\n"));
  };
  const contents = new Map<string, Uint8Array>();
  const entry = (path: string, c: Uint8Array) => (contents.set(sha(c), c), { path, hash: sha(c), size: c.byteLength, mode: 420 });
  const base = Array.from({ length: 10_000 }, (_, i) => entry(`src/m${i % 100}/f${i}.ts`, texts[i % 200]!));
  const theirs = base.map((f, i) => (i < 500 ? entry(f.path, edited(i, 0)) : f));
  const ours = base.map((f, i) => (i >= 400 && i < 900 ? entry(f.path, edited(i, 29)) : f));
  for (const [h, c] of contents) await fetch(`${url}/v1/blobs/upload/${h}`, { method: "PUT", body: c as BodyInit });
  const put = async (files: typeof base) => {
    const m = canonicalManifest(files);
    await api("PUT", `/v1/blobs/manifests/${m.hash}`, m.bytes);
    return m.hash;
  };
  const project = (await api("POST", "/v1/projects", { name: "bench" })).project;
  const main = (await api("POST", `/v1/projects/${project.id}/workspaces`, { name: "main" })).workspace;
  await api("POST", `/v1/projects/${project.id}/snapshots`, { manifest_hash: await put(base), snapshot_id: "base", workspace_id: main.id });
  const ws = (await api("POST", `/v1/projects/${project.id}/workspaces`, { name: "ws", base_snapshot_id: "base" })).workspace;
  await api("POST", `/v1/projects/${project.id}/snapshots`, { manifest_hash: await put(theirs), parent_snapshot_ids: ["base"], workspace_id: main.id });
  await api("POST", `/v1/projects/${project.id}/snapshots`, { manifest_hash: await put(ours), parent_snapshot_ids: ["base"], workspace_id: ws.id });
  const times: number[] = [];
  let last: any;
  for (let i = 0; i < 12; i++) {
    const t = performance.now();
    last = await api("POST", `/v1/workspaces/${ws.id}/sync/prepare`, {});
    if (i >= 2) times.push(performance.now() - t);
  }
  return { p50: quantile(times, 0.5), auto: last.preview.auto_actions.length, decisions: last.preview.decisions_needed.length };
}

/** GC over 100,000 indexed blobs (files on disk), one snapshot's manifest naming half of them. */
async function gcBench(): Promise<{ blobs: number; dryMs: number; deleteMs: number; deleted: number }> {
  const env = await testDomain({ gcGraceMs: 0 });
  const { d } = env;
  const tenant = "bench";
  const n = 100_000;
  const ns = join(env.dir, "blobs", namespaceOf(tenant, "blob"));
  const rows: { hash: string; size: number }[] = [];
  for (let i = 0; i < n; i++) rows.push({ hash: sha(new TextEncoder().encode(`blob ${i}`)), size: 6 + String(i).length });
  for (const r of rows) {
    mkdirSync(join(ns, r.hash.slice(0, 2)), { recursive: true });
    writeFileSync(join(ns, r.hash.slice(0, 2), r.hash), `blob`);
  }
  const insert = d.database.sqlite.prepare("INSERT INTO ws_objects (tenant, kind, hash, size, created_at) VALUES (?, 'blob', ?, ?, 0)");
  d.database.sqlite.transaction(() => {
    for (const r of rows) insert.run(tenant, r.hash, r.size);
  })();
  const m = canonicalManifest(rows.slice(0, n / 2).map((r, i) => ({ path: `f${i}`, hash: r.hash, size: r.size, mode: 420 })));
  await storeBytes(d, tenant, "manifest", m.hash, m.bytes);
  const { createProject } = await import("../src/workspaces/projects.ts");
  const { createSnapshot } = await import("../src/workspaces/snapshots.ts");
  const p = await createProject(d, tenant, "u", { name: "gc", requestId: "" });
  await createSnapshot(d, tenant, { projectId: p.id, manifestHash: m.hash, parents: [] });
  (env.clock as { advance(ms: number): void }).advance(1000);
  d.manifestCache.clear();
  let t = performance.now();
  const dry = await collectGarbage(d, tenant, { maxBlobs: n });
  const dryMs = performance.now() - t;
  t = performance.now();
  const real = await collectGarbage(d, tenant, { dryRun: false, maxBlobs: n });
  const deleteMs = performance.now() - t;
  if (dry.orphanedBlobs !== n / 2 || real.orphanedBlobs !== n / 2) throw new Error(`gc found ${dry.orphanedBlobs}/${real.orphanedBlobs}`);
  await env.close();
  return { blobs: dry.scannedBlobs, dryMs, deleteMs, deleted: real.orphanedBlobs };
}

export async function workspacesBench(): Promise<string> {
  const dir = `/tmp/switchyard-bench-ws-${process.pid}`;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const server = await startServer(join(dir, "data"));
  try {
    const small = await transfer(server.url, 1024 * 1024, 20, dir);
    const large = await transfer(server.url, 100 * 1024 * 1024, 2, dir);
    const exists = await existsP50(server.url);
    const prep = await prepareP50(server.url);
    await server.stop();
    const gc = await gcBench();
    const t = (r: TransferRow) => `| ${r.size} | ${r.uploadMBps.toFixed(0)} | ${r.downloadMBps.toFixed(0)} | ${r.sha256sumMBps.toFixed(0)} | ${(r.uploadMBps / r.sha256sumMBps).toFixed(2)} | ${(r.downloadMBps / r.sha256sumMBps).toFixed(2)} |`;
    return [
      "## Blob transfer (REST byte routes, one client, sequential)",
      "",
      "Upload: the server hashes while bytes arrive, writes a temp file, fsyncs, renames, fsyncs the directory and indexes the blob (group commit) before answering 201. Download: streamed from the file; the client hashes what it receives.",
      "",
      "| blob | upload MB/s | download MB/s | `sha256sum` MB/s | upload ÷ sha256sum | download ÷ sha256sum |",
      "|---|---:|---:|---:|---:|---:|",
      t(small),
      t(large),
      "",
      "## Other operations",
      "",
      "| operation | figure |",
      "|---|---|",
      `| \`POST /v1/blobs/exists\` with 100 hashes (50 stored), p50 of 250 | ${exists.toFixed(2)} ms |`,
      `| \`POST /sync/prepare\`, 10,000-file manifests (${prep.auto} auto actions, ${prep.decisions} decisions; 100 files merged line-wise), p50 of 10 | ${prep.p50.toFixed(1)} ms |`,
      `| GC dry run over ${gc.blobs.toLocaleString("en")} blobs (one 50,000-file manifest as root) | ${gc.dryMs.toFixed(0)} ms |`,
      `| GC deleting ${gc.deleted.toLocaleString("en")} orphans (row, then file) | ${gc.deleteMs.toFixed(0)} ms |`,
    ].join("\n");
  } finally {
    await server.stop().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) console.log(await workspacesBench());
