import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Bus } from "../bus/bus.ts";
import { createNatsBus } from "../bus/nats.ts";
import type { Config } from "../config.ts";
import { createManualClock } from "../core/clock.ts";
import { AppError } from "../core/errors.ts";
import { createSecretBox } from "../core/secret-box.ts";
import { openPostgresDatabase, type PgDatabase } from "../db/open.ts";
import { startNatsServer, type NatsServer } from "../testing/nats-server.ts";
import { freshPostgresUrl } from "../testing/postgres.ts";
import { tempFilesOf } from "./blob-store-fs.ts";
import { checkBlobs, loadManifest, putObject, readObject, storageStats } from "./blobs.ts";
import { namespaceOf, type WorkspaceDomain } from "./context.ts";
import { collectGarbage } from "./gc.ts";
import { sha256Hex } from "./manifests.ts";
import { createWorkspaceDomain } from "./module.ts";
import { createProject, listEvents, watchEvents } from "./projects.ts";
import { createSnapshot, getSnapshot, listSnapshots } from "./snapshots.ts";
import { executeSync, prepareSync, undoSync } from "./sync.ts";
import { storeTree } from "./testing.ts";
import type { ProjectEvent } from "./types.ts";
import { createWorkspace, getWorkspace } from "./workspaces.ts";

/**
 * Two instances of the workspace domain (two database handles on one PostgreSQL database, one
 * shared blob folder, one NATS), as two Switchyard processes would run them. They share a
 * manual clock (on PostgreSQL every instance reads the database's clock).
 */
const wanted = (process.env.SWITCHYARD_TEST_DIALECTS ?? "sqlite,postgres").split(",").includes("postgres");

(wanted ? describe : describe.skip)("workspaces on two instances [postgres]", () => {
  const GRACE = 60_000;
  const clock = createManualClock();
  let dir: string;
  let nats: NatsServer;
  const dbs: PgDatabase[] = [];
  const buses: Bus[] = [];
  let a: WorkspaceDomain;
  let b: WorkspaceDomain;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "switchyard-ws-shared-"));
    const url = await freshPostgresUrl("ws_instances");
    nats = await startNatsServer();
    const secrets = await createSecretBox(Uint8Array.from(randomBytes(32)));
    const config = { dataDir: dir, blobMaxBytes: 16 * 1024 * 1024, blobGcGraceMs: GRACE } as Config;
    const instance = async () => {
      const database = await openPostgresDatabase(url);
      const bus = await createNatsBus({ servers: nats.url });
      dbs.push(database);
      buses.push(bus);
      return createWorkspaceDomain({ config, database, clock, secrets, bus });
    };
    a = await instance();
    b = await instance();
  }, 60_000);

  afterAll(async () => {
    for (const d of [a, b]) d?.events.close();
    for (const bus of buses) await bus.close().catch(() => {});
    for (const db of dbs) await db.close().catch(() => {});
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const once = (bytes: Uint8Array) => (async function* () {
    yield bytes;
  })();
  /** Splits bytes in chunks that arrive one turn of the loop apart, so two uploads interleave. */
  const slowly = (bytes: Uint8Array) => (async function* () {
    for (let i = 0; i < bytes.byteLength; i += 64 * 1024) {
      await new Promise((r) => setImmediate(r));
      yield bytes.subarray(i, i + 64 * 1024);
    }
  })();
  const fileOf = (tenant: string, hash: string) => join(dir, "blobs", namespaceOf(tenant, "blob"), hash.slice(0, 2), hash);
  const failure = async (p: Promise<unknown>) => {
    try {
      await p;
      return "ok";
    } catch (e) {
      return e instanceof AppError ? `${e.code}:${e.reason}` : String(e);
    }
  };

  it("stores one row and one whole file when both instances upload the same blob at once", async () => {
    for (let round = 0; round < 4; round++) {
      const bytes = Uint8Array.from(randomBytes(600_000));
      const hash = sha256Hex(bytes);
      const results = await Promise.all([putObject(a, "t", "blob", hash, slowly(bytes)), putObject(b, "t", "blob", hash, slowly(bytes)), putObject(b, "t", "blob", hash, once(bytes))]);
      expect(results.filter((r) => r.created).length).toBe(1);
      expect(results.every((r) => r.size === bytes.byteLength)).toBe(true);
      expect(sha256Hex(readFileSync(fileOf("t", hash)))).toBe(hash);
      expect(sha256Hex(await readObject(a, "t", "blob", hash))).toBe(hash);
      expect(sha256Hex(await readObject(b, "t", "blob", hash))).toBe(hash);
    }
    const [rows] = (await dbs[0]!.pg.sql`SELECT COUNT(*)::int AS n FROM ws_objects WHERE tenant = 't' AND kind = 'blob'`) as { n: number }[];
    expect(rows!.n).toBe(4);
    expect((await storageStats(b, "t")).blobs.count).toBe(4);
    expect(tempFilesOf(join(dir, "blobs"))).toEqual([]);
  });

  it("shows a snapshot made on one instance to the other, and its events to the other's watchers", async () => {
    const p = await createProject(a, "t", "u1", { name: "shared", requestId: "" });
    const abort = new AbortController();
    const seen: ProjectEvent[] = [];
    // A live watcher on b (registered at the call): what a commits reaches it only over the bus.
    const live = b.events.watch("t", p.id, abort.signal);
    const watching = (async () => {
      for await (const e of live) {
        seen.push(e);
        if (e.type === "snapshot.created") break;
      }
    })();
    const main = await createWorkspace(a, "t", { projectId: p.id, name: "main", requestId: "" });
    const h = await storeTree(a, "t", { "README.md": "# shared\n", "src/a.ts": "export const a = 1;\n" });
    await createSnapshot(a, "t", { projectId: p.id, manifestHash: h, snapshotId: "s1", parents: [], workspaceId: main.id });
    const timeout = setTimeout(() => abort.abort(), 20_000);
    await watching;
    clearTimeout(timeout);
    // (project.created may or may not arrive: it was published before the watcher registered.)
    const types = seen.map((e) => e.type).filter((t) => t !== "project.created");
    expect(types).toEqual(["workspace.created", "snapshot.created"]);
    expect(seen.at(-1)!.data).toEqual({ snapshot_id: "s1", manifest_hash: h });
    // A watcher on b that replays from the project's first event gets the same, once each.
    const replay = new AbortController();
    const replayed: string[] = [];
    for await (const e of watchEvents(b, "t", p.id, (await listEvents(b, "t", p.id, 100, "")).items.at(-1)!.id, replay.signal)) {
      replayed.push(e.type);
      if (replayed.length === 2) break;
    }
    expect(replayed).toEqual(["workspace.created", "snapshot.created"]);
    // b reads what a wrote: rows through the database, bytes through the shared folder.
    expect((await getSnapshot(b, "t", "s1")).manifestHash).toBe(h);
    expect((await listSnapshots(b, "t", { workspaceId: main.id }, 0, "")).items.map((s) => s.id)).toEqual(["s1"]);
    expect((await getWorkspace(b, "t", main.id)).lastSnapshotId).toBe("s1");
    expect((await loadManifest(b, "t", h)).files.map((f) => f.path)).toEqual(["README.md", "src/a.ts"]);
    // The same snapshot id from both instances at once: one is created, the other answers it.
    const h2 = await storeTree(b, "t", { "README.md": "# shared, again\n" });
    const both = await Promise.all([a, b].map((d) => createSnapshot(d, "t", { projectId: p.id, manifestHash: h2, snapshotId: "s2", parents: ["s1"], workspaceId: main.id })));
    expect(both.map((r) => r.created).sort()).toEqual([false, true]);
  });

  it("lets one of two concurrent sync executes of a workspace win; the other is refused, never half applied", async () => {
    const p = await createProject(a, "t", "u1", { name: "sync", requestId: "" });
    const main = await createWorkspace(a, "t", { projectId: p.id, name: "main", requestId: "" });
    await createSnapshot(a, "t", { projectId: p.id, manifestHash: await storeTree(a, "t", { "a.txt": "a\n", "b.txt": "b\n" }), snapshotId: `${p.id}-base`, parents: [], workspaceId: main.id });
    const feature = await createWorkspace(b, "t", { projectId: p.id, name: "feature", baseSnapshotId: `${p.id}-base`, requestId: "" });
    await createSnapshot(b, "t", { projectId: p.id, manifestHash: await storeTree(b, "t", { "a.txt": "a from main\n", "b.txt": "b\n" }), parents: [`${p.id}-base`], workspaceId: main.id });
    const start = await getWorkspace(a, "t", feature.id);
    const [pa, pb] = await Promise.all([prepareSync(a, "t", feature.id), prepareSync(b, "t", feature.id)]);
    const outcomes = await Promise.all([
      executeSync(a, "t", feature.id, { previewId: pa.id, decisions: {} }).then((r) => ({ ok: r }), (e: AppError) => ({ error: `${e.code}:${e.reason}` })),
      executeSync(b, "t", feature.id, { previewId: pb.id, decisions: {} }).then((r) => ({ ok: r }), (e: AppError) => ({ error: `${e.code}:${e.reason}` })),
    ]);
    const won = outcomes.filter((o) => "ok" in o);
    expect(won.length).toBe(1);
    expect(outcomes.filter((o) => "error" in o).map((o) => (o as { error: string }).error)).toEqual(["aborted:WORKSPACE_VERSION_CONFLICT"]);
    const result = (won[0] as { ok: Awaited<ReturnType<typeof executeSync>> }).ok;
    // Exactly the winner's change: one version step, one sync snapshot, one sync record.
    const after = await getWorkspace(b, "t", feature.id);
    expect(after.version).toBe(start.version + 1);
    expect(after.lastSnapshotId).toBe(result.snapshotId);
    expect(after.currentManifestHash).toBe(result.manifestHash);
    const sql = dbs[0]!.pg.sql;
    const [counts] = (await sql`SELECT
        (SELECT COUNT(*)::int FROM ws_snapshots WHERE tenant = 't' AND workspace_id = ${feature.id} AND source = 'sync') AS snaps,
        (SELECT COUNT(*)::int FROM ws_syncs WHERE tenant = 't' AND workspace_id = ${feature.id}) AS syncs,
        (SELECT COUNT(*)::int FROM ws_sync_previews WHERE tenant = 't' AND workspace_id = ${feature.id} AND executed_at IS NOT NULL) AS executed,
        (SELECT COUNT(*)::int FROM ws_events WHERE tenant = 't' AND workspace_id = ${feature.id} AND type = 'sync.executed') AS events`) as Record<string, number>[];
    expect(counts).toEqual({ snaps: 1, syncs: 1, executed: 1, events: 1 });
    // The winning preview executed again from both instances at once answers its first result.
    const winner = "ok" in outcomes[0]! ? pa : pb;
    const again = await Promise.all([a, b].map((d) => executeSync(d, "t", feature.id, { previewId: winner.id, decisions: {} })));
    expect(again).toEqual([result, result]);
    // Two undos at once: one reverts, the other finds nothing left to undo.
    const undos = await Promise.all([a, b].map((d) => undoSync(d, "t", feature.id).then(() => "ok", (e: AppError) => `${e.code}:${e.reason}`)));
    expect(undos.sort()).toEqual(["failed_precondition:NO_SYNC_TO_UNDO", "ok"]);
    const undone = await getWorkspace(a, "t", feature.id);
    expect([undone.lastSnapshotId, undone.currentManifestHash, undone.version]).toEqual([start.lastSnapshotId, start.currentManifestHash, start.version + 2]);
  });

  it("never collects a blob another instance is uploading again, and runs one GC of a tenant at a time", async () => {
    for (let round = 0; round < 6; round++) {
      const bytes = Uint8Array.from(randomBytes(200_000));
      const hash = sha256Hex(bytes);
      await putObject(a, "g", "blob", hash, once(bytes));
      clock.advance(2 * GRACE); // an orphan past its grace period
      // b collects while a uploads the same bytes again: whichever goes first, the blob stays whole.
      const [gc] = await Promise.all([collectGarbage(b, "g", { dryRun: false }), putObject(a, "g", "blob", hash, slowly(bytes))]);
      expect(gc.scannedBlobs).toBeGreaterThanOrEqual(1);
      expect((await checkBlobs(b, "g", [hash])).existing).toEqual([hash]);
      expect(existsSync(fileOf("g", hash))).toBe(true);
      expect(sha256Hex(await readObject(b, "g", "blob", hash))).toBe(hash);
    }
    // Each round's GC took the previous round's orphan; the last one goes now, row and file.
    const last = (await a.database.read((tx) => a.store.scanObjects(tx, "g", "blob", "", 10))).map((o) => o.hash);
    expect(last.length).toBe(1);
    clock.advance(2 * GRACE);
    const collected = await collectGarbage(a, "g", { dryRun: false });
    expect(collected.orphanedBlobs).toBe(1);
    expect((await storageStats(b, "g")).blobs.count).toBe(0);
    expect(existsSync(fileOf("g", last[0]!))).toBe(false);
    // While one instance holds the tenant's GC lock, a real run elsewhere is refused; a dry run is not.
    const release = (await a.database.read((tx) => a.store.gcLock(tx, "g")))!;
    expect(release).toBeDefined();
    expect(await failure(collectGarbage(b, "g", { dryRun: false }))).toBe("aborted:GC_IN_PROGRESS");
    expect((await collectGarbage(b, "g", { dryRun: true })).dryRun).toBe(true);
    expect(await failure(collectGarbage(a, "h", { dryRun: false }))).toBe("ok"); // another tenant's lock is its own
    await release();
    expect(await failure(collectGarbage(b, "g", { dryRun: false }))).toBe("ok");
  });

  it("sweeps expired previews once per round across instances", async () => {
    const now = clock.now();
    const expired = now - 25 * 3600 * 1000;
    await a.database.write((tx) => a.store.insertPreview(tx, "sweep", { id: "old", workspaceId: "w", workspaceVersion: 1, plan: "{}", expiresAt: expired }));
    await a.database.write((tx) => a.store.insertPreview(tx, "sweep", { id: "fresh", workspaceId: "w", workspaceVersion: 1, plan: "{}", expiresAt: now }));
    // Another instance's sweep in progress (its transaction holds the round's lock): this one skips.
    const other = await dbs[1]!.pg.sql.reserve();
    try {
      await other`BEGIN`;
      await other`SELECT pg_advisory_xact_lock(${0x77737076})`;
      expect(await a.database.write((tx) => a.store.deleteExpiredPreviews(tx, now))).toBe(0);
      expect((await a.database.read((tx) => a.store.getPreview(tx, "sweep", "old")))?.id).toBe("old");
      await other`ROLLBACK`;
    } finally {
      other.release();
    }
    const swept = await Promise.all([a, b].map((d) => d.database.write((tx) => d.store.deleteExpiredPreviews(tx, now))));
    expect(swept.reduce((x, y) => x + y, 0)).toBe(1);
    expect(await a.database.read((tx) => a.store.getPreview(tx, "sweep", "old"))).toBeUndefined();
    expect((await b.database.read((tx) => b.store.getPreview(tx, "sweep", "fresh")))?.id).toBe("fresh");
  });
});
