import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { TaskService } from "../../gen/switchyard/tasks/v1/tasks_service_pb.js";
import { allServices } from "../../src/server/services.ts";
import { freePort, repoRoot, waitForHttp } from "../../src/testing/server.ts";

// The production image runs the bundle (`bun run build` → dist/main.js and its bytecode, see
// the Dockerfile): one precompiled file instead of ~570 modules to resolve and transpile. What the source
// tree finds beside itself at runtime (each domain's migrations, the checkpoint worker, the
// OpenAPI document, the generated services) must be found from dist/ too.
describe("the production bundle (dist/main.js)", () => {
  let proc: ReturnType<typeof Bun.spawn>;
  let url: string;
  let dataDir: string;
  let install: string;

  beforeAll(async () => {
    const build = Bun.spawnSync(["bun", "run", "build"], { cwd: repoRoot, stdout: "pipe", stderr: "pipe" });
    expect(build.exitCode, build.stderr.toString()).toBe(0);
    expect(existsSync(join(repoRoot, "dist", "main.js"))).toBe(true);
    expect(existsSync(join(repoRoot, "dist", "main.js.jsc"))).toBe(true); // compiled to bytecode
    // Run from a copy of the install tree elsewhere (dist/ copied; src/, gen/ and node_modules/
    // linked): the bundle must find everything from where it is, not where it was built.
    install = mkdtempSync(join(tmpdir(), "switchyard-install-"));
    cpSync(join(repoRoot, "dist"), join(install, "dist"), { recursive: true });
    for (const dir of ["src", "gen", "node_modules"]) symlinkSync(join(repoRoot, dir), join(install, dir));
    expect(readFileSync(join(install, "dist", "main.js"), "utf8")).not.toContain(repoRoot);
    const port = await freePort();
    dataDir = mkdtempSync(join(tmpdir(), "switchyard-bundle-"));
    url = `http://127.0.0.1:${port}`;
    proc = Bun.spawn(["bun", join(install, "dist", "main.js")], {
      // Started from elsewhere: nothing may be found relative to the working directory.
      cwd: dataDir,
      env: { ...process.env, SWITCHYARD_PORT: String(port), SWITCHYARD_HOST: "127.0.0.1", SWITCHYARD_DATA_DIR: dataDir, SWITCHYARD_SHUTDOWN_GRACE_MS: "1000" },
      stdout: "pipe",
      stderr: "pipe",
    });
    await waitForHttp(`${url}/readyz`, 15_000);
  }, 30_000);

  afterAll(async () => {
    proc?.kill("SIGTERM");
    await proc?.exited;
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(install, { recursive: true, force: true });
  });

  it("serves tasks over gRPC on its migrated database, every service of the generated code, and the API docs", async () => {
    const tasks = createClient(TaskService, createGrpcTransport({ baseUrl: url }));
    const created = await tasks.createTask({ task: { queue: "bundled", type: "hello" } });
    expect((await tasks.getTask({ id: created.task!.id })).task?.type).toBe("hello");
    // Every service the generated code declares is routed (a method missing from the bundle
    // would answer 404, not a Connect error body).
    for (const service of allServices()) {
      const method = service.methods.find((m) => m.methodKind === "unary")!;
      const res = await fetch(`${url}/${service.typeName}/${method.name}`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
      expect([service.typeName, res.status]).not.toEqual([service.typeName, 404]);
      expect(((await res.json()) as object) ?? {}).toBeObject();
    }
    const docs = await fetch(`${url}/openapi.json`);
    expect(docs.status).toBe(200);
    expect(Object.keys(((await docs.json()) as { paths: object }).paths).length).toBeGreaterThan(50);
    // Swagger UI's assets are resolved from node_modules at runtime.
    expect((await fetch(`${url}/docs/assets/swagger-ui-bundle.js`)).status).toBe(200);
  });

  it("checkpoints its WAL from the worker thread, and shows it on /metrics", async () => {
    const tasks = createClient(TaskService, createGrpcTransport({ baseUrl: url }));
    for (let i = 0; i < 20; i++) await tasks.createTask({ task: { queue: "bundled" } });
    const counter = (text: string, name: string) => Number(new RegExp(`^${name} (\\d+)`, "m").exec(text)?.[1] ?? NaN);
    let text = "";
    // The worker starts 1 s after the first write, then checkpoints within a tick (200 ms).
    for (let i = 0; i < 150; i++) {
      text = await (await fetch(`${url}/metrics/prometheus`)).text();
      if (counter(text, 'switchyard_db_checkpoints_total\\{result="ok"\\}') > 0) break;
      await Bun.sleep(100);
    }
    expect(counter(text, "switchyard_db_commit_groups_total")).toBeGreaterThanOrEqual(21);
    expect(counter(text, "switchyard_db_wal_syncs_total")).toBeGreaterThan(0);
    // Where a write's time went: running, committing, syncing (seconds, summed).
    const seconds = (name: string) => Number(new RegExp(`^${name} ([\\d.e+-]+)`, "m").exec(text)?.[1] ?? NaN);
    for (const name of ["switchyard_db_group_run_seconds_total", "switchyard_db_commit_seconds_total", "switchyard_db_wal_sync_seconds_total"]) {
      expect([name, seconds(name) > 0]).toEqual([name, true]);
    }
    // Each of the 21+ syncs took at least a few µs and, on any disk, far less than a second.
    expect(seconds("switchyard_db_wal_sync_seconds_total") / counter(text, "switchyard_db_wal_syncs_total")).toBeLessThan(1);
    expect(counter(text, 'switchyard_db_checkpoints_total\\{result="ok"\\}')).toBeGreaterThan(0);
    expect(counter(text, "switchyard_db_checkpoint_worker_starts_total")).toBe(1);
  });

  it("refuses bad configuration as the source does (exit 2, every bad variable named)", async () => {
    const bad = Bun.spawn(["bun", join(repoRoot, "dist", "main.js")], { env: { ...process.env, SWITCHYARD_PORT: "eighty", SWITCHYARD_TYPO: "1" }, stdout: "pipe", stderr: "pipe" });
    expect(await bad.exited).toBe(2);
    const err = await new Response(bad.stderr).text();
    for (const name of ["SWITCHYARD_PORT", "SWITCHYARD_TYPO"]) expect(err).toContain(name);
  });
});
