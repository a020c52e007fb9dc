import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { HealthStatus, SystemService } from "../../gen/switchyard/system/v1/system_service_pb.js";
import { clientFor, type Protocol } from "../../src/testing/clients.ts";
import { startTestServer, type TestServer } from "../../src/testing/server.ts";
import { rejection } from "../../src/testing/async.ts";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());


for (const protocol of ["grpc", "grpc-web", "connect"] as Protocol[]) {
  describe(`${protocol} client`, () => {
    it("makes a unary call and writes then reads a setting", async () => {
      const client = clientFor(SystemService, server.url, protocol);
      const info = await client.getInfo({});
      expect(info.version).toBe("0.1.0");
      await client.setSetting({ name: `p.${protocol}`, value: { kind: { case: "stringValue", value: protocol } } });
      const got = await client.getSetting({ name: `p.${protocol}` });
      expect(got.setting?.value?.kind).toEqual({ case: "stringValue", value: protocol });
      expect(got.setting?.version).toBe(1n);
    });

    it("reads a server stream message by message", async () => {
      const client = clientFor(SystemService, server.url, protocol);
      const abort = new AbortController();
      const seen: HealthStatus[] = [];
      for await (const m of client.watchHealth({ interval: { seconds: 0n, nanos: 100_000_000 } }, { signal: abort.signal })) {
        seen.push(m.health!.status);
        if (seen.length === 3) break;
      }
      abort.abort();
      expect(seen).toEqual([HealthStatus.HEALTHY, HealthStatus.HEALTHY, HealthStatus.HEALTHY]);
    });

    it("reads not_found with its ErrorInfo reason", async () => {
      const client = clientFor(SystemService, server.url, protocol);
      const error = await rejection(client.getSetting({ name: "does.not.exist" }));
      expect(error.code).toBe(Code.NotFound);
      const info = error.findDetails(ErrorInfoSchema)[0];
      expect(info?.reason).toBe("SETTING_NOT_FOUND");
      expect(info?.metadata.name).toBe("does.not.exist");
    });
  });
}

describe("REST", () => {
  it("GETs with a path variable", async () => {
    await fetch(`${server.url}/v1/system/settings/rest.one`, { method: "PUT", body: JSON.stringify({ value: [1, 2] }) });
    const res = await fetch(`${server.url}/v1/system/settings/rest.one`);
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.setting).toMatchObject({ name: "rest.one", value: [1, 2], version: "1" });
    expect(typeof body.setting.update_time).toBe("string");
  });

  it("GETs with repeated query parameters and pagination", async () => {
    for (const n of ["q.a", "q.b", "q.c"]) {
      await fetch(`${server.url}/v1/system/settings`, { method: "POST", body: JSON.stringify({ name: n, value: n }) });
    }
    const some = await (await fetch(`${server.url}/v1/system/settings?names=q.a&names=q.c`)).json();
    expect(some.settings.map((s: { name: string }) => s.name)).toEqual(["q.a", "q.c"]);
    const first = await (await fetch(`${server.url}/v1/system/settings?prefix=q.&page_size=2`)).json();
    expect(first.settings.map((s: { name: string }) => s.name)).toEqual(["q.a", "q.b"]);
    const second = await (await fetch(`${server.url}/v1/system/settings?prefix=q.&pageSize=2&page_token=${first.next_page_token}`)).json();
    expect(second.settings.map((s: { name: string }) => s.name)).toEqual(["q.c"]);
    expect(second.next_page_token).toBe("");
  });

  it("POSTs a body through an additional binding and honours expected_version", async () => {
    const ok = await fetch(`${server.url}/v1/system/settings`, { method: "POST", body: JSON.stringify({ name: "cas", value: 1, expected_version: 0 }) });
    expect(ok.status).toBe(200);
    const conflict = await fetch(`${server.url}/v1/system/settings`, { method: "POST", body: JSON.stringify({ name: "cas", value: 2, expectedVersion: 0 }) });
    expect(conflict.status).toBe(409);
    expect((await conflict.json()).error).toMatchObject({ code: "aborted", reason: "VERSION_MISMATCH" });
  });

  it("refuses an unknown field with 400 naming it", async () => {
    const res = await fetch(`${server.url}/v1/system/settings/x`, { method: "PUT", body: JSON.stringify({ value: 1, colour: "red" }) });
    expect(res.status).toBe(400);
    expect((await res.json()).error).toMatchObject({ code: "invalid_argument", reason: "INVALID_ARGUMENT", metadata: { field: "colour" } });
  });

  it("delivers a server stream as Server-Sent Events", async () => {
    const abort = new AbortController();
    const res = await fetch(`${server.url}/v1/system/health:watch?interval=0.1s`, { signal: abort.signal });
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const reader = res.body!.getReader();
    let text = "";
    while ((text.match(/event: message/g) ?? []).length < 2) text += new TextDecoder().decode((await reader.read()).value);
    abort.abort();
    const events = text.split("\n\n").filter((e) => e.includes("event: message"));
    const data = JSON.parse(events[0]!.split("\n").find((l) => l.startsWith("data: "))!.slice(6));
    expect(data.health.status).toBe("HEALTH_STATUS_HEALTHY");
    expect(events[0]).toStartWith("id: 1\n");
  });

  it("answers 404 for an unknown route and 405 for a known path with another method", async () => {
    const missing = await fetch(`${server.url}/v1/nothing/here`);
    expect(missing.status).toBe(404);
    expect((await missing.json()).error.reason).toBe("ROUTE_NOT_FOUND");
    const wrong = await fetch(`${server.url}/v1/system/info`, { method: "DELETE" });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get("allow")).toBe("GET");
  });

  it("echoes a client's request id and makes one otherwise", async () => {
    const given = await fetch(`${server.url}/v1/system/info`, { headers: { "x-request-id": "trace-123" } });
    expect(given.headers.get("x-request-id")).toBe("trace-123");
    const made = await fetch(`${server.url}/v1/system/info`);
    expect(made.headers.get("x-request-id")).toStartWith("req_");
  });

  it("logs one JSON line per request with protocol, rpc, code, duration and request id", async () => {
    await fetch(`${server.url}/v1/system/settings/log.me`, { headers: { "x-request-id": "log-line-1" } });
    await Bun.sleep(20);
    const line = server.logs.find((l) => l.request_id === "log-line-1");
    expect(line).toMatchObject({
      msg: "request",
      protocol: "rest",
      route: "GET /v1/system/settings/{name}",
      rpc: "switchyard.system.v1.SystemService/GetSetting",
      code: "not_found",
      reason: "SETTING_NOT_FOUND",
      status: 404,
    });
    expect(typeof line!.duration_ms).toBe("number");
  });
});

describe("CORS", () => {
  it("answers a browser preflight with the Connect headers allowed", async () => {
    const res = await fetch(`${server.url}/switchyard.system.v1.SystemService/GetInfo`, {
      method: "OPTIONS",
      headers: { origin: "http://app.example", "access-control-request-method": "POST", "access-control-request-headers": "connect-protocol-version,content-type" },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe("http://app.example");
    expect(res.headers.get("access-control-allow-headers")).toContain("Connect-Protocol-Version");
    expect(res.headers.get("access-control-allow-headers")).toContain("Authorization");
  });
});

describe("CORS with configured origins", () => {
  it("allows only the listed origins", async () => {
    const strict = await startTestServer({ SWITCHYARD_CORS_ORIGINS: "https://app.example" });
    try {
      const ok = await fetch(`${strict.url}/v1/system/info`, { headers: { origin: "https://app.example" } });
      expect(ok.headers.get("access-control-allow-origin")).toBe("https://app.example");
      const other = await fetch(`${strict.url}/v1/system/info`, { headers: { origin: "https://evil.example" } });
      expect(other.headers.get("access-control-allow-origin")).toBeNull();
    } finally {
      await strict.close();
    }
  });
});
