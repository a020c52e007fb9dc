import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { startTestServer, type TestServer } from "../../src/testing/server.ts";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ SWITCHYARD_ENV: "production" });
  await fetch(`${server.url}/v1/system/info`);
  await fetch(`${server.url}/v1/system/settings/none`);
});
afterAll(() => server.close());

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

describe("seed 004 operations routes", () => {
  it("GET /health answers the documented shape with components and metrics", async () => {
    const res = await fetch(`${server.url}/health`);
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toMatchObject({ status: "healthy", version: "0.1.0", environment: "production" });
    expect(body.timestamp).toMatch(ISO);
    expect(typeof body.uptime).toBe("number");
    expect(body.components.database).toMatchObject({ status: "operational" });
    expect(body.components.auth).toMatchObject({ status: "not configured", configured: false });
    expect(body.metrics.requests.total).toBeGreaterThanOrEqual(2);
    expect(body.metrics.requests.byStatus["404"]).toBeGreaterThanOrEqual(1);
    expect(body.metrics.requests.successRate).toBe(1);
    expect(typeof body.metrics.averageResponseTime).toBe("number");
    expect(typeof body.metrics.errorRate).toBe("number");
  });

  it("GET /metrics answers totals, per route, per status, average time, uptime and version", async () => {
    const body = await (await fetch(`${server.url}/metrics`)).json();
    expect(body.requests.byRoute["GET /v1/system/info"]).toBe(1);
    expect(body.requests.byStatus["200"]).toBeGreaterThanOrEqual(1);
    expect(body.requests.total).toBeGreaterThanOrEqual(3);
    expect(body.deploymentStartTime).toMatch(ISO);
    expect(body.uptime).toBeGreaterThanOrEqual(0);
    expect(body.version).toBe("0.1.0");
    expect(typeof body.averageResponseTime).toBe("number");
  });

  it("paths that match no route share one route label (a scanner cannot grow the metrics without bound)", async () => {
    for (const path of ["/no/such/a1", "/no/such/b2", "/wp-login.php"]) expect((await fetch(`${server.url}${path}`)).status).toBe(404);
    expect((await fetch(`${server.url}/switchyard.nope.v1.Nope/Nothing`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" })).status).toBe(404);
    const text = await (await fetch(`${server.url}/metrics/prometheus`)).text();
    expect(text).not.toContain("/no/such");
    expect(text).not.toContain("wp-login");
    expect(text).not.toContain("switchyard.nope");
    expect(text).toMatch(/switchyard_requests_total\{protocol="rest",route="unmatched",status="404"\} [3-9]/);
    const body = await (await fetch(`${server.url}/metrics`)).json();
    expect(Object.keys(body.requests.byRoute).filter((k) => k.includes("/no/such"))).toEqual([]);
    expect(body.requests.byRoute["unmatched"]).toBeGreaterThanOrEqual(4);
  });

  it("GET /metrics/prometheus answers the text exposition with switchyard_ names", async () => {
    const res = await fetch(`${server.url}/metrics/prometheus`);
    expect(res.headers.get("content-type")).toStartWith("text/plain");
    const text = await res.text();
    expect(text).toContain("# TYPE switchyard_requests_total counter");
    expect(text).toMatch(/switchyard_requests_total\{protocol="rest",route="GET \/v1\/system\/info",status="200"\} 1/);
    expect(text).toContain("# TYPE switchyard_average_response_time_ms gauge");
    expect(text).toContain("switchyard_uptime_seconds");
    for (const line of text.split("\n").filter((l) => l && !l.startsWith("#"))) expect(line).toMatch(/^(switchyard_|claude_code_)/);
  });

  it("GET /health answers 503 and unhealthy while draining", async () => {
    const other = await startTestServer();
    other.app.health.setDraining();
    const res = await fetch(`${other.url}/health`);
    expect(res.status).toBe(503);
    expect((await res.json()).status).toBe("unhealthy");
    expect((await fetch(`${other.url}/readyz`)).status).toBe(503);
    expect((await fetch(`${other.url}/healthz`)).status).toBe(200);
    await other.close();
  });

  it("answers a wrong method in the seed's error body", async () => {
    const res = await fetch(`${server.url}/health`, { method: "POST" });
    expect(res.status).toBe(400);
    const body = await res.json();
    expect(body.error).toBe("VALIDATION_ERROR");
    expect(body.timestamp).toMatch(ISO);
    expect(res.headers.get("allow")).toBe("GET");
  });
});
