import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { connect as h2connect } from "node:http2";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { SystemService } from "../../gen/switchyard/system/v1/system_service_pb.js";
import { TaskService } from "../../gen/switchyard/tasks/v1/tasks_service_pb.js";
import { errorInfo } from "../../src/server/errors.ts";
import { clientFor } from "../../src/testing/clients.ts";
import { startTestServer, type TestServer } from "../../src/testing/server.ts";

// What a newcomer, a fuzzer and the public clients found (issue 13), on one real server.

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ QDRANT_URL: "http://127.0.0.1:6333" });
});
afterAll(() => server.close());

describe("engines reported", () => {
  it("lists the engines really in use, and starts although the configured Qdrant is not reachable yet", async () => {
    const info = await clientFor(SystemService, server.url, "connect").getInfo({});
    expect(info.engines).toEqual({ database: "sqlite", bus: "in-process", vectors: "qdrant", embeddings: "builtin-lexical-v1" });
  });
});

const transports: Record<string, (baseUrl: string) => Transport> = {
  "grpc": (baseUrl) => createGrpcTransport({ baseUrl }),
  "grpc-web": (baseUrl) => createGrpcWebTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: true }),
  "connect binary": (baseUrl) => createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: true }),
  "connect json": (baseUrl) => createConnectTransport({ baseUrl, httpVersion: "1.1" }),
};

async function refusal(call: Promise<unknown>): Promise<{ code: string; reason: string | undefined }> {
  try {
    await call;
  } catch (e) {
    const error = ConnectError.from(e);
    return { code: Code[error.code], reason: errorInfo(error)?.reason };
  }
  throw new Error("the call was not refused");
}

describe("every refusal carries its ErrorInfo reason on every protocol", () => {
  for (const [name, transport] of Object.entries(transports)) {
    it(`${name}: a deadline over SWITCHYARD_MAX_DEADLINE_MS is invalid_argument DEADLINE_TOO_LONG`, async () => {
      const system = createClient(SystemService, transport(server.url));
      const timeoutMs = server.config.maxDeadlineMs * 10;
      expect(await refusal(system.getInfo({}, { timeoutMs }))).toEqual({ code: "InvalidArgument", reason: "DEADLINE_TOO_LONG" });
      // A server stream is refused the same way.
      const stream = (async () => {
        for await (const _ of system.watchHealth({}, { timeoutMs })) break;
      })();
      expect(await refusal(stream)).toEqual({ code: "InvalidArgument", reason: "DEADLINE_TOO_LONG" });
    });

    it(`${name}: a method this server does not have is unimplemented METHOD_NOT_FOUND`, async () => {
      // The client prefixes every path with its base URL: /nope/switchyard.system.v1.SystemService/GetInfo.
      const system = createClient(SystemService, transport(`${server.url}/nope`));
      expect(await refusal(system.getInfo({}))).toEqual({ code: "Unimplemented", reason: "METHOD_NOT_FOUND" });
      const stream = (async () => {
        for await (const _ of system.watchHealth({})) break;
      })();
      expect(await refusal(stream)).toEqual({ code: "Unimplemented", reason: "METHOD_NOT_FOUND" });
    });

    it(`${name}: a message over the size limit is resource_exhausted BODY_TOO_LARGE`, async () => {
      const tasks = createClient(TaskService, transport(server.url));
      const big = "x".repeat(server.config.maxMessageBytes + 1024);
      const call = tasks.createTask({ task: { queue: "big", title: "big", description: big } });
      expect(await refusal(call)).toEqual({ code: "ResourceExhausted", reason: "BODY_TOO_LARGE" });
      // The server still serves the next call.
      expect((await createClient(SystemService, transport(server.url)).getInfo({})).version).toBeString();
    });
  }

  it("REST and legacy routes answer a body over the limit with 413 and reason BODY_TOO_LARGE", async () => {
    const big = JSON.stringify({ task: { queue: "big", title: "x".repeat(server.config.maxBodyBytes + 10) } });
    const rest = await fetch(`${server.url}/v1/tasks`, { method: "POST", headers: { "content-type": "application/json" }, body: big });
    expect(rest.status).toBe(413);
    expect((await rest.json()).error).toMatchObject({ code: "resource_exhausted", reason: "BODY_TOO_LARGE" });
    const legacy = await fetch(`${server.url}/api/tasks`, { method: "POST", headers: { "content-type": "application/json" }, body: big });
    expect(legacy.status).toBe(413);
  });
});

describe("custom verbs and ids", () => {
  it("GET /v1/tasks/0:cancel is not GetTask(\"0:cancel\"): 405 with Allow: POST", async () => {
    const r = await fetch(`${server.url}/v1/tasks/0:cancel`);
    expect(r.status).toBe(405);
    expect(r.headers.get("allow")).toBe("POST");
    expect((await r.json()).error.reason).toBe("METHOD_NOT_ALLOWED");
  });

  it("OPTIONS on a custom verb answers its methods in Allow", async () => {
    const r = await fetch(`${server.url}/v1/tasks/abc:claim`, { method: "OPTIONS" });
    expect(r.status).toBe(204);
    expect(r.headers.get("allow")).toBe("POST, OPTIONS");
    const plain = await fetch(`${server.url}/v1/tasks/abc`, { method: "OPTIONS" });
    expect(plain.headers.get("allow")!.split(", ").sort()).toEqual(["DELETE", "GET", "OPTIONS", "PATCH"]);
  });

  it("an id holding a colon is still reachable with the colon percent-encoded", async () => {
    const created = await fetch(`${server.url}/v1/tasks`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ task: { id: "job:cancel", queue: "colons", title: "colon id" } }),
    });
    expect(created.status).toBe(200);
    const got = await fetch(`${server.url}/v1/tasks/job%3Acancel`);
    expect(got.status).toBe(200);
    expect((await got.json()).task.id).toBe("job:cancel");
  });
});

describe("one token parser for every protocol", () => {
  it("accepts a bearer token followed by a space on HTTP/1.1 and on HTTP/2 alike (REST and Connect)", async () => {
    const token = "trailing-space-token-0123";
    const locked = await startTestServer({ SWITCHYARD_API_TOKEN: token });
    try {
      const h1 = await fetch(`${locked.url}/v1/system/info`, { headers: { authorization: `Bearer ${token} ` } });
      expect(h1.status).toBe(200);
      const h2 = async (headers: Record<string, string>, body?: string) => {
        const session = h2connect(locked.url);
        try {
          const req = session.request(headers);
          req.end(body);
          req.resume();
          return await new Promise<number>((resolve, reject) => {
            req.on("response", (h) => resolve(Number(h[":status"])));
            req.on("error", reject);
          });
        } finally {
          session.close();
        }
      };
      expect(await h2({ ":method": "GET", ":path": "/v1/system/info", authorization: `Bearer ${token} ` })).toBe(200);
      expect(await h2({ ":method": "POST", ":path": "/switchyard.system.v1.SystemService/GetInfo", "content-type": "application/json", authorization: `Bearer ${token} ` }, "{}")).toBe(200);
      // A wrong token is still refused on both.
      expect(await h2({ ":method": "GET", ":path": "/v1/system/info", authorization: `Bearer ${token}x ` })).toBe(401);
      expect((await fetch(`${locked.url}/v1/system/info`, { headers: { authorization: `Bearer ${token}x ` } })).status).toBe(401);
    } finally {
      await locked.close();
    }
  });
});

describe("the write limit holds for REST and legacy answers", () => {
  it("refuses a REST or legacy answer over SWITCHYARD_MAX_MESSAGE_BYTES that gRPC can still send", async () => {
    // 2.5 MB of quotes: 2.5 MB in protobuf, 5 MB once JSON escapes them.
    const tasks = createClient(TaskService, transports["connect binary"]!(server.url));
    const { task } = await tasks.createTask({ task: { queue: "quotes", title: "quotes", payload: { kind: { case: "stringValue", value: '"'.repeat(2_500_000) } } } });
    expect((await tasks.getTask({ id: task!.id })).task!.id).toBe(task!.id);
    const rest = await fetch(`${server.url}/v1/tasks/${task!.id}`);
    expect(rest.status).toBe(429);
    expect((await rest.json()).error).toMatchObject({ code: "resource_exhausted", reason: "RESPONSE_TOO_LARGE" });
    const legacy = await fetch(`${server.url}/api/task/${task!.id}`);
    expect(legacy.status).toBe(429);
  });
});

describe("seeds that disagree: GET /health (002 and 004)", () => {
  it("answers seed 004's body, which carries seed 002's timestamp; /healthz keeps seed 002's word", async () => {
    const r = await fetch(`${server.url}/health`);
    expect(r.status).toBe(200);
    const body = await r.json();
    expect(["healthy", "degraded"]).toContain(body.status);
    expect(Date.parse(body.timestamp)).toBeGreaterThan(0);
    expect(body.components).toBeObject();
    const z = await (await fetch(`${server.url}/healthz`)).json();
    expect(z.status).toBe("ok");
    expect(Date.parse(z.timestamp)).toBeGreaterThan(0);
  });
});

describe("runqy's CLI paths and seed 001's tags, now that workers and servers are served", () => {
  it("answers runqy's /workers and /workers/{id} as /api/cli/workers does, and tags seed 001 server routes as the original", async () => {
    const a = await (await fetch(`${server.url}/api/cli/workers`)).json();
    const b = await (await fetch(`${server.url}/workers`)).json();
    expect(b).toEqual(a);
    expect((await fetch(`${server.url}/workers/no-such-worker`)).status).toBe((await fetch(`${server.url}/api/cli/workers/no-such-worker`)).status);
    const doc = (await (await fetch(`${server.url}/openapi.json`)).json()) as { paths: Record<string, Record<string, { tags?: string[] }>> };
    expect(doc.paths["/api/servers"]!.post!.tags).toEqual(["Servers"]);
    expect(doc.paths["/api/stats/load-balancer"]!.get!.tags).toEqual(["Load Balancer"]);
    expect(doc.paths["/api/stats/servers/{id}"]!.get!.tags).toEqual(["Statistics"]);
  });
});
