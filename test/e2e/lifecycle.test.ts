import { describe, expect, it } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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
});
