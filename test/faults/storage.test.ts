// Storage faults against a real server process: a disk that fills up (a tmpfs the test
// mounts), a file system the kernel turns read-only after an I/O error (an ext4 image on a loop
// device with errors=remount-ro), a database file deleted under the running server, and a slow
// disk. Each: clear errors with their reason, honest health, reads served, nothing acknowledged
// lost, an intact file afterwards.
import { afterEach, describe, expect, it } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { Health, HealthCheckResponse_ServingStatus } from "../../gen/grpc/health/v1/health_pb.js";
import { TaskService } from "../../gen/switchyard/tasks/v1/tasks_service_pb.js";
import { clientFor } from "../../src/testing/clients.ts";
import { startChildServer, type ChildServer } from "../../src/testing/child-server.ts";
import { mountExt4, mountTmpfs, mountsUnavailable, type TestMount } from "../../src/testing/faulty-fs.ts";

const noMount = mountsUnavailable();
if (noMount) console.warn(`storage fault tests that need a mount are SKIPPED: ${noMount}`);
const withMount = noMount ? it.skip : it;

let cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function server(dir: string, env: Record<string, string> = {}, stdoutFile?: string): Promise<ChildServer> {
  const s = await startChildServer(dir, env, undefined, stdoutFile);
  cleanup.push(() => s.kill("SIGKILL"));
  return s;
}

const payload = "x".repeat(4000);
async function createBatch(url: string, ids: string[]): Promise<Response> {
  return fetch(`${url}/v1/tasks:batchCreate`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ requests: ids.map((id) => ({ task: { id, queue: "faults", payload: { id, pad: payload } } })) }),
  });
}

async function health(url: string): Promise<{ status: string; components: { name: string; status: string; message: string }[] }> {
  const h = (await (await fetch(`${url}/v1/system/health`)).json()) as { health: { status: string; components: { name: string; status: string; message: string }[] } };
  return h.health;
}
const storageOf = async (url: string) => (await health(url)).components.find((c) => c.name === "storage")!;

async function grpcComponent(url: string, name: string): Promise<HealthCheckResponse_ServingStatus> {
  return (await clientFor(Health, url, "grpc").check({ service: `switchyard.component.${name}` })).status;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(50);
  }
}

function verifyFile(path: string, acked: string[]): void {
  const db = new Database(path, { readonly: true });
  try {
    expect(db.query("PRAGMA integrity_check").get()).toEqual({ integrity_check: "ok" });
    const have = new Set((db.query("SELECT id FROM tasks WHERE queue = 'faults'").all() as { id: string }[]).map((r) => r.id));
    const missing = acked.filter((id) => !have.has(id));
    expect(missing).toEqual([]);
  } finally {
    db.close();
  }
}

describe("a disk that fills up", () => {
  withMount(
    "refuses writes with STORAGE_FULL (507 on REST, resource_exhausted on gRPC), keeps reads, reports it, and resumes by itself",
    async () => {
      const mount: TestMount = mountTmpfs(12);
      cleanup.push(() => mount.unmount());
      // Its request log goes to a file on the same full disk: the log may lose lines, the server must not fall.
      const s = await server(mount.dir, { SWITCHYARD_LOG_LEVEL: "info" }, join(mount.dir, "server.log"));
      const acked: string[] = [];
      let batch = 0;
      const next = () => Array.from({ length: 40 }, (_, i) => `full-${batch}-${i}`);
      for (; batch < 3; batch++) {
        const ids = next();
        expect((await createBatch(s.url, ids)).status).toBe(200);
        acked.push(...ids);
      }
      // Fill the file system, then write until the database cannot grow.
      Bun.spawnSync(["dd", "if=/dev/zero", `of=${join(mount.dir, "filler")}`, "bs=256k"], { stderr: "ignore" });
      let refused: Response | undefined;
      for (; batch < 400 && !refused; batch++) {
        const ids = next();
        const r = await createBatch(s.url, ids);
        if (r.status === 200) acked.push(...ids);
        else refused = r;
      }
      expect(refused?.status).toBe(507);
      const body = (await refused!.json()) as { error: { code: string; reason: string; message: string } };
      expect(body.error).toMatchObject({ code: "resource_exhausted", reason: "STORAGE_FULL" });
      expect(body.error.message).toContain("full");

      const grpc = clientFor(TaskService, s.url, "grpc");
      const err = await grpc.createTask({ task: { queue: "faults", payload: { kind: { case: "stringValue", value: payload } } } }).then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
      expect(err?.code).toBe(Code.ResourceExhausted);
      expect(err?.findDetails(ErrorInfoSchema)[0]?.reason).toBe("STORAGE_FULL");
      // Seed 001's legacy route answers the same status with its own body.
      const legacy = await fetch(`${s.url}/api/task`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ type: "fill", priority: 1, payload: { pad: payload } }) });
      expect(legacy.status).toBe(507);

      // Reads keep working; health and the metric say what is wrong.
      expect((await fetch(`${s.url}/v1/tasks/${acked[0]}`)).status).toBe(200);
      const storage = await storageOf(s.url);
      expect(storage.status).toBe("degraded");
      expect(storage.message).toContain("STORAGE_FULL");
      expect((await health(s.url)).status).toBe("HEALTH_STATUS_DEGRADED");
      expect(await grpcComponent(s.url, "storage")).toBe(HealthCheckResponse_ServingStatus.NOT_SERVING);
      const prom = await (await fetch(`${s.url}/metrics/prometheus`)).text();
      expect(Number(/switchyard_storage_writes_refused_total\{reason="STORAGE_FULL"\} (\d+)/.exec(prom)?.[1])).toBeGreaterThan(0);
      expect(s.proc.exitCode).toBeNull();

      // Space returns: writes resume on their own, health clears.
      unlinkSync(join(mount.dir, "filler"));
      const ids = next();
      await until("writes to resume", async () => (await createBatch(s.url, ids)).status === 200 || undefined);
      acked.push(...ids);
      expect((await storageOf(s.url)).status).toBe("operational");
      expect(await grpcComponent(s.url, "storage")).toBe(HealthCheckResponse_ServingStatus.SERVING);

      expect(await s.kill("SIGTERM")).toBe(0);
      verifyFile(join(mount.dir, "switchyard.db"), acked);
    },
    90_000,
  );
});

describe("a file system that turns read-only", () => {
  withMount(
    "refuses writes with STORAGE_READ_ONLY, serves reads, stays up, and loses nothing once the disk is checked and remounted",
    async () => {
      const disk = mountExt4(48);
      cleanup.push(() => disk.unmount());
      let s = await server(disk.dir);
      const acked: string[] = [];
      for (let b = 0; b < 3; b++) {
        const ids = Array.from({ length: 30 }, (_, i) => `ro-${b}-${i}`);
        expect((await createBatch(s.url, ids)).status).toBe(200);
        acked.push(...ids);
      }
      disk.failToReadOnly();
      const r = await createBatch(s.url, ["ro-refused"]);
      expect(r.status).toBe(503);
      const body = (await r.json()) as { error: { code: string; reason: string } };
      expect(body.error).toMatchObject({ code: "unavailable", reason: "STORAGE_READ_ONLY" });
      // Reads are served; health is degraded, not a crash; the process is still there.
      expect((await fetch(`${s.url}/v1/tasks/${acked[5]}`)).status).toBe(200);
      expect((await storageOf(s.url)).message).toContain("STORAGE_READ_ONLY");
      for (let i = 0; i < 5; i++) expect((await createBatch(s.url, [`ro-again-${i}`])).status).toBe(503);
      expect(s.proc.exitCode).toBeNull();
      await s.kill("SIGTERM");

      // The operator checks and remounts the disk; the server comes back with everything.
      disk.remount();
      verifyFile(join(disk.dir, "switchyard.db"), acked);
      s = await server(disk.dir);
      expect((await createBatch(s.url, ["ro-after"])).status).toBe(200);
      await s.kill("SIGTERM");
      verifyFile(join(disk.dir, "switchyard.db"), [...acked, "ro-after"]);
    },
    90_000,
  );
});

describe("a database file deleted under the running server", () => {
  it("refuses every write with STORAGE_UNAVAILABLE, turns unhealthy (readyz 503) and does not crash", async () => {
    const dir = mkdtempSync(join(tmpdir(), "switchyard-vanish-"));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const s = await server(dir);
    expect((await createBatch(s.url, ["v-1"])).status).toBe(200);
    for (const suffix of ["", "-wal", "-shm"]) rmSync(join(dir, `switchyard.db${suffix}`), { force: true });
    const storage = await until("the server to notice", async () => {
      const c = await storageOf(s.url);
      return c.status === "down" ? c : undefined;
    });
    expect(storage.message).toContain("removed");
    const r = await createBatch(s.url, ["v-2"]);
    expect(r.status).toBe(503);
    expect(((await r.json()) as { error: { reason: string } }).error.reason).toBe("STORAGE_UNAVAILABLE");
    expect((await fetch(`${s.url}/readyz`)).status).toBe(503);
    expect((await health(s.url)).status).toBe("HEALTH_STATUS_UNHEALTHY");
    await Bun.sleep(300);
    expect(s.proc.exitCode).toBeNull();
  }, 30_000);
});

describe("a slow disk", () => {
  it("shows as latency and bounded back-pressure: past the pending bound writes are refused, never queued without limit", async () => {
    const dir = mkdtempSync(join(tmpdir(), "switchyard-slow-"));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const s = await server(dir, { SWITCHYARD_FAILPOINTS: "db.sync=delay(150)", SWITCHYARD_MAX_PENDING_WRITES: "40" });
    const results = await Promise.all(
      Array.from({ length: 160 }, (_, i) =>
        fetch(`${s.url}/v1/tasks`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ task: { id: `slow-${i}`, queue: "faults" } }) }).then(async (r) => ({ id: `slow-${i}`, status: r.status, body: (await r.json()) as { error?: { reason: string } } })),
      ),
    );
    const accepted = results.filter((r) => r.status === 200).map((r) => r.id);
    const refused = results.filter((r) => r.status !== 200);
    expect(accepted.length).toBeGreaterThan(0);
    expect(refused.length).toBeGreaterThan(0);
    for (const r of refused) {
      expect(r.status).toBe(429);
      expect(r.body.error?.reason).toBe("WRITES_BACKLOGGED");
    }
    await s.kill("SIGTERM");
    verifyFile(join(dir, "switchyard.db"), accepted);
  }, 60_000);
});

describe("a blob upload on a full disk", () => {
  withMount(
    "answers 507 STORAGE_FULL, leaves no partial blob, and stores the same blob once space returns",
    async () => {
      const mount: TestMount = mountTmpfs(16);
      cleanup.push(() => mount.unmount());
      const s = await server(mount.dir, { SWITCHYARD_BLOB_MAX_BYTES: String(64 * 1024 * 1024) });
      const bytes = new Uint8Array(6 * 1024 * 1024).map((_, i) => (i * 31) % 251);
      const hash = new Bun.CryptoHasher("sha256").update(bytes).digest("hex");
      Bun.spawnSync(["dd", "if=/dev/zero", `of=${join(mount.dir, "filler")}`, "bs=256k"], { stderr: "ignore" });
      const up = () => fetch(`${s.url}/v1/blobs/upload/${hash}`, { method: "PUT", body: bytes as unknown as BodyInit });
      const refused = await up();
      expect(refused.status).toBe(507);
      expect(JSON.stringify(await refused.json())).toContain("STORAGE_FULL");
      expect((await fetch(`${s.url}/v1/blobs/download/${hash}`)).status).toBe(404);
      unlinkSync(join(mount.dir, "filler"));
      expect((await up()).status).toBe(201);
      const back = new Uint8Array(await (await fetch(`${s.url}/v1/blobs/download/${hash}`)).arrayBuffer());
      expect(back.byteLength).toBe(bytes.byteLength);
    },
    60_000,
  );
});
