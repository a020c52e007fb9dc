import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { ConnectError } from "@connectrpc/connect";
import { RetryInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { IntegrationService } from "../../gen/switchyard/agents/v1/integration_service_pb.js";
import { QuotaService, RateLimitWindow } from "../../gen/switchyard/agents/v1/quota_service_pb.js";
import { createManualClock } from "../../src/core/clock.ts";
import { clientFor, type Protocol } from "../../src/testing/clients.ts";
import { preparePython, runPython } from "../../src/testing/python.ts";
import { join } from "node:path";
import { repoRoot } from "../../src/testing/server.ts";
import { startTestServer, type TestServer } from "../../src/testing/server.ts";

const clock = createManualClock(Date.UTC(2026, 5, 1, 12, 0, 30));
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ SWITCHYARD_RATE_LIMITS: "api=3/m;seed-004=3/m,5/h;seed-001=4/m;seed-001-task-create=2/m" }, { clock });
});
afterAll(() => server.close());

/** Moves the injected clock to 30 s into the next minute: a fresh minute window. */
function nextMinute(): number {
  clock.set((Math.floor(clock.now() / 60_000) + 1) * 60_000 + 30_000);
  return Math.ceil(clock.now() / 60_000) * 60; // the window's reset, Unix seconds
}

const limitHeaders = (h: Headers) => ({ limit: h.get("x-ratelimit-limit"), remaining: h.get("x-ratelimit-remaining"), reset: h.get("x-ratelimit-reset") });

describe("rate limits", () => {
  it("limits seed 004 routes in several windows at once, with headers, 429 RATE_LIMIT_EXCEEDED and Retry-After, and resets with the clock", async () => {
    const reset = nextMinute();
    for (const remaining of ["2", "1", "0"]) {
      const res = await fetch(`${server.url}/gh-status`);
      expect(res.status).toBe(200);
      expect(limitHeaders(res.headers)).toEqual({ limit: "3", remaining, reset: String(reset) });
      expect(res.headers.get("x-request-count")).toMatch(/^\d+$/);
    }
    const over = await fetch(`${server.url}/gh-status`);
    expect(over.status).toBe(429);
    expect(over.headers.get("retry-after")).toBe("30");
    expect(limitHeaders(over.headers)).toEqual({ limit: "3", remaining: "0", reset: String(reset) });
    const body = await over.json();
    expect(body).toMatchObject({ error: "RATE_LIMIT_EXCEEDED" });
    expect(body.message).toContain("3 requests per minute");
    expect(typeof body.timestamp).toBe("string");

    // A new minute: the minute window is fresh, but the hour window (5) is nearly spent.
    nextMinute();
    const fifth = await fetch(`${server.url}/gh-status`);
    expect(fifth.status).toBe(200);
    expect(fifth.headers.get("x-ratelimit-limit")).toBe("5");
    expect(fifth.headers.get("x-ratelimit-remaining")).toBe("0");
    const hourly = await fetch(`${server.url}/gh-status`);
    expect(hourly.status).toBe(429);
    const hourEnd = Math.ceil(clock.now() / 3_600_000) * 3600;
    expect(hourly.headers.get("x-ratelimit-reset")).toBe(String(hourEnd));
    expect(Number(hourly.headers.get("retry-after"))).toBe(hourEnd - Math.floor(clock.now() / 1000));
    expect((await hourly.json()).message).toContain("per hour");
  });

  it("limits seed 001 routes, task creation apart, in seed 001's error body", async () => {
    nextMinute();
    const create = () => fetch(`${server.url}/api/task`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ type: "t", priority: 1 }) });
    const a = await create();
    expect(a.status).toBe(201);
    expect(limitHeaders(a.headers)).toMatchObject({ limit: "2", remaining: "1" });
    expect((await create()).status).toBe(201);
    const refused = await create();
    expect(refused.status).toBe(429);
    expect(await refused.json()).toMatchObject({ error: "Too many requests" });
    // Other seed 001 routes still have room in the family's own window (4/min, 3 used).
    const read = await fetch(`${server.url}/api/stats/tasks`);
    expect(read.status).toBe(200);
    expect(limitHeaders(read.headers)).toMatchObject({ limit: "4", remaining: "0" });
  });

  for (const protocol of ["connect", "grpc-web", "grpc"] as const satisfies Protocol[]) {
    it(`limits the canonical API over ${protocol}: headers in the response, resource_exhausted with RetryInfo over the limit`, async () => {
      const reset = nextMinute();
      const client = clientFor(IntegrationService, server.url, protocol);
      for (const remaining of ["2", "1", "0"]) {
        let headers: Headers | undefined;
        await client.getIntegrationStatus({}, { onHeader: (h) => (headers = h) });
        expect(limitHeaders(headers!)).toEqual({ limit: "3", remaining, reset: String(reset) });
      }
      let error: ConnectError | undefined;
      try {
        await client.getIntegrationStatus({});
      } catch (e) {
        error = ConnectError.from(e);
      }
      expect(error?.code).toBe(8); // resource_exhausted
      expect(error!.findDetails(RetryInfoSchema)[0]?.retryDelay?.seconds).toBe(30n);
      expect(error!.metadata.get("retry-after")).toBe("30");
      expect(error!.metadata.get("x-ratelimit-remaining")).toBe("0");
      // Reading one's own counters does not count and shows the window.
      const status = await clientFor(QuotaService, server.url, protocol).getRateLimitStatus({});
      expect(status.key).toBe("ip:127.0.0.1");
      expect(status.windows[0]).toMatchObject({ window: RateLimitWindow.MINUTE, limit: 3, remaining: 0 });
      nextMinute();
      await client.getIntegrationStatus({});
    });
  }

  it("sends the counters as gRPC response metadata to a grpcio client, and RetryInfo in the status details over the limit", async () => {
    const { python, stubs } = await preparePython();
    const reset = nextMinute();
    const out = (await runPython(python, [join(repoRoot, "test/python/rate_limit_client.py"), `127.0.0.1:${server.port}`, stubs, "4"])) as unknown as Record<string, unknown>[];
    expect(out.slice(0, 3)).toEqual(["2", "1", "0"].map((remaining) => ({ code: "OK", remaining, limit: "3", reset: String(reset) })));
    expect(out[3]).toEqual({ code: "RESOURCE_EXHAUSTED", retry_after: "30", remaining: "0", retry_info_seconds: 30 });
  }, 60_000);

  it("limits canonical REST with the same headers, 429 and Retry-After", async () => {
    nextMinute();
    for (let i = 0; i < 3; i++) expect((await fetch(`${server.url}/v1/agents/integrations`)).headers.get("x-ratelimit-remaining")).toBe(String(2 - i));
    const over = await fetch(`${server.url}/v1/agents/integrations`);
    expect(over.status).toBe(429);
    expect(over.headers.get("retry-after")).toBe("30");
    expect((await over.json()).error).toMatchObject({ code: "resource_exhausted", reason: "RATE_LIMIT_EXCEEDED" });
  });

  it("keys anonymous callers by X-Forwarded-For only behind a trusted proxy", async () => {
    nextMinute();
    const statusKey = async (url: string, forwarded: string) =>
      (await (await fetch(`${url}/v1/rateLimits`, { headers: { "x-forwarded-for": forwarded } })).json()).key;
    // Not trusted: a client cannot pick its own key.
    expect(await statusKey(server.url, "203.0.113.9")).toBe("ip:127.0.0.1");
    const proxied = await startTestServer({ SWITCHYARD_RATE_LIMITS: "off;api=2/m", SWITCHYARD_TRUSTED_PROXIES: "127.0.0.1" }, { clock });
    try {
      expect(await statusKey(proxied.url, "198.51.100.1, 203.0.113.9")).toBe("ip:203.0.113.9");
      const call = (forwarded: string) => fetch(`${proxied.url}/v1/agents/integrations`, { headers: { "x-forwarded-for": forwarded } });
      expect((await call("203.0.113.1")).status).toBe(200);
      expect((await call("203.0.113.1")).status).toBe(200);
      expect((await call("203.0.113.1")).status).toBe(429);
      const other = await call("203.0.113.2");
      expect(other.status).toBe(200);
      expect(other.headers.get("x-ratelimit-remaining")).toBe("1");
    } finally {
      await proxied.close();
    }
  });

  it("does not limit health probes nor GitHub's signed deliveries", async () => {
    nextMinute();
    for (let i = 0; i < 5; i++) expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    for (let i = 0; i < 5; i++) expect((await fetch(`${server.url}/webhooks/github`, { method: "POST", body: "{}" })).status).toBe(200);
  });
});
