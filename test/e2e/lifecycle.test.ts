import { describe, expect, it } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as netConnect, createServer as createNetServer } from "node:net";
import { writeFileSync } from "node:fs";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Health, HealthCheckResponse_ServingStatus } from "../../gen/grpc/health/v1/health_pb.js";
import { SystemService } from "../../gen/switchyard/system/v1/system_service_pb.js";
import { clientFor } from "../../src/testing/clients.ts";
import { freePort, repoRoot, waitForHttp } from "../../src/testing/server.ts";

function spawnServer(env: Record<string, string>) {
  return Bun.spawn(["bun", join(repoRoot, "src/main.ts")], { env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
}

describe("the server process", () => {
  it("drains on SIGTERM: NOT_SERVING to watchers, streams ended, exit 0, database intact", async () => {
    const port = await freePort();
    const dataDir = mkdtempSync(join(tmpdir(), "switchyard-life-"));
    const proc = spawnServer({ SWITCHYARD_PORT: String(port), SWITCHYARD_HOST: "127.0.0.1", SWITCHYARD_DATA_DIR: dataDir, SWITCHYARD_SHUTDOWN_GRACE_MS: "3000" });
    const url = `http://127.0.0.1:${port}`;
    await waitForHttp(`${url}/healthz`);
    await clientFor(SystemService, url, "connect").setSetting({ name: "kept", value: { kind: { case: "numberValue", value: 7 } } });

    const health = createClient(Health, createGrpcTransport({ baseUrl: url }));
    const statuses: HealthCheckResponse_ServingStatus[] = [];
    let watchEnd: string | undefined;
    const watching = (async () => {
      try {
        for await (const m of health.watch({})) statuses.push(m.status);
        watchEnd = "ended";
      } catch (e) {
        watchEnd = Code[ConnectError.from(e).code];
      }
    })();
    while (statuses.length === 0) await Bun.sleep(10);

    const started = Date.now();
    proc.kill("SIGTERM");
    expect(await proc.exited).toBe(0);
    await watching;
    expect(Date.now() - started).toBeLessThan(6000);
    expect(statuses).toEqual([HealthCheckResponse_ServingStatus.SERVING, HealthCheckResponse_ServingStatus.NOT_SERVING]);
    expect(["Unavailable", "ended", "Canceled", "Internal"]).toContain(watchEnd!);
    const logs = await new Response(proc.stdout).text();
    expect(logs).toContain('"msg":"shutting down"');
    expect(logs).toContain('"msg":"stopped"');

    const db = new Database(join(dataDir, "switchyard.db"));
    expect(db.query("PRAGMA integrity_check").get()).toEqual({ integrity_check: "ok" });
    expect(db.query("SELECT value FROM system_settings WHERE name = 'kept'").get()).toEqual({ value: "7" });
    db.close();
  }, 20_000);

  it("refuses to start on bad configuration, listing every bad variable at once", async () => {
    const proc = spawnServer({ SWITCHYARD_PORT: "eighty", SWITCHYARD_MAX_MESSAGE_BYTES: "1", NATS_URL: "http://x", SWITCHYARD_TYPO: "1" });
    expect(await proc.exited).toBe(2);
    const err = await new Response(proc.stderr).text();
    for (const name of ["SWITCHYARD_PORT", "SWITCHYARD_MAX_MESSAGE_BYTES", "NATS_URL", "SWITCHYARD_TYPO"]) expect(err).toContain(name);
  });

  it("on SIGTERM keeps accepting new connections for half the grace period, /readyz answering 503, then exits 0", async () => {
    const port = await freePort();
    const dataDir = mkdtempSync(join(tmpdir(), "switchyard-life-"));
    const proc = spawnServer({ SWITCHYARD_PORT: String(port), SWITCHYARD_HOST: "127.0.0.1", SWITCHYARD_DATA_DIR: dataDir, SWITCHYARD_SHUTDOWN_GRACE_MS: "4000" });
    const url = `http://127.0.0.1:${port}`;
    await waitForHttp(`${url}/healthz`);
    expect((await fresh(port, "/readyz")).status).toBe(200);
    proc.kill("SIGTERM");
    // Wait for the drain to start (readyz turns 503), on a new connection each time.
    let ready = await fresh(port, "/readyz");
    for (let i = 0; i < 100 && ready.status === 200; i++) ready = await fresh(port, "/readyz");
    expect(ready.status).toBe(503);
    expect(JSON.parse(ready.body)).toMatchObject({ draining: true });
    // Still serving other work on new connections while draining.
    expect((await fresh(port, "/v1/system/info")).status).toBe(200);
    expect(await proc.exited).toBe(0);
  }, 20_000);

  it("says in one line that the port is in use, and exits 2", async () => {
    const blocker = createNetServer();
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", () => r()));
    const port = (blocker.address() as { port: number }).port;
    const dataDir = mkdtempSync(join(tmpdir(), "switchyard-life-"));
    const proc = spawnServer({ SWITCHYARD_PORT: String(port), SWITCHYARD_HOST: "127.0.0.1", SWITCHYARD_DATA_DIR: dataDir });
    expect(await proc.exited).toBe(2);
    const err = (await new Response(proc.stderr).text()).trim();
    blocker.close();
    // One plain line (the other stderr lines are JSON log records), no stack trace.
    const plain = err.split("\n").filter((l) => !l.startsWith("{"));
    expect(plain).toHaveLength(1);
    expect(err).not.toMatch(/^\s+at /m);
    expect(err).toContain(`127.0.0.1:${port}`);
    expect(err).toContain("already in use");
  }, 20_000);

  it("refuses to start with a missing or invalid SWITCHYARD_QUEUE_CONFIG (exit 2)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "switchyard-life-"));
    const invalid = join(dir, "queues.yaml");
    writeFileSync(invalid, "queues:\n  inference:\n    priority: high\n");
    for (const path of [join(dir, "missing.yaml"), invalid]) {
      const proc = spawnServer({ SWITCHYARD_PORT: "0", SWITCHYARD_DATA_DIR: dir, SWITCHYARD_QUEUE_CONFIG: path });
      expect(await proc.exited).toBe(2);
      expect(await new Response(proc.stderr).text()).toContain("SWITCHYARD_QUEUE_CONFIG");
    }
  }, 20_000);
});

/** One HTTP/1.1 request on a new TCP connection (a load balancer's probe). */
function fresh(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = netConnect(port, "127.0.0.1", () => socket.write(`GET ${path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`));
    let answer = "";
    socket.on("data", (d) => (answer += d.toString()));
    socket.on("error", reject);
    socket.on("close", () => {
      const status = Number(/^HTTP\/1\.1 (\d+)/.exec(answer)?.[1] ?? 0);
      if (!status) return reject(new Error(`no answer on ${path}: ${answer}`));
      resolve({ status, body: answer.slice(answer.indexOf("\r\n\r\n") + 4) });
    });
  });
}
