import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { connect, type ClientHttp2Session, type IncomingHttpHeaders } from "node:http2";
import { create, fromBinary, toBinary, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { findTrailerError } from "@connectrpc/connect/protocol-grpc";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import {
  GetInfoRequestSchema,
  GetInfoResponseSchema,
  GetSettingRequestSchema,
  GetSettingResponseSchema,
  SetSettingRequestSchema,
  SystemService,
  WatchHealthRequestSchema,
  WatchHealthResponseSchema,
} from "../../gen/switchyard/system/v1/system_service_pb.js";
import { CreateTaskRequestSchema, CreateTaskResponseSchema, TaskService } from "../../gen/switchyard/tasks/v1/tasks_service_pb.js";
import { systemClock } from "../../src/core/clock.ts";
import { silentLogger } from "../../src/core/logger.ts";
import { createRequestHandler } from "../../src/server/http.ts";
import { createAuthGate, createPrincipalResolver } from "../../src/server/interceptors/auth.ts";
import { createLeanGrpc } from "../../src/server/lean-grpc.ts";
import { createLegacyRouter } from "../../src/server/legacy/table.ts";
import { listen, type Listener } from "../../src/server/listener.ts";
import { createRestRouter } from "../../src/server/rest/routes.ts";
import { createRpc } from "../../src/server/rpc.ts";
import { createHealthMonitor } from "../../src/system/health.ts";
import { createRequestMetrics } from "../../src/system/metrics.ts";
import { loadConfig } from "../../src/config.ts";
import { clientFor } from "../../src/testing/clients.ts";
import { startTestServer, type TestServer } from "../../src/testing/server.ts";

// The lean unary gRPC path (src/server/lean-grpc.ts) against Connect's own path, side by side:
// the same requests to a server with SWITCHYARD_LEAN_GRPC=1 and one with 0 must get the same
// status, message, details bytes and metadata. Raw HTTP/2 frames, so nothing is hidden by a client.

const TOKEN = "lean-grpc-test-token-0123456789";
const ENV = { SWITCHYARD_API_TOKEN: TOKEN, SWITCHYARD_RATE_LIMITS: "api=100000/m" };

interface Answer {
  headers: Record<string, string>;
  trailers: Record<string, string>;
  data: Buffer;
}

const sessions: ClientHttp2Session[] = [];
function sessionFor(url: string): ClientHttp2Session {
  const s = connect(url);
  s.on("error", () => {});
  sessions.push(s);
  return s;
}

const frame = (message: Uint8Array, flag = 0) => {
  const out = Buffer.alloc(5 + message.byteLength);
  out[0] = flag;
  out.writeUInt32BE(message.byteLength, 1);
  Buffer.from(message).copy(out, 5);
  return out;
};
const msg = <D extends DescMessage>(desc: D, init: MessageInitShape<D>) => frame(toBinary(desc, create(desc, init)));

/** One raw gRPC call; headers that differ per call (date, request id, rate-limit counters) are left out. */
function call(session: ClientHttp2Session, path: string, body: Uint8Array, extra: Record<string, string> = {}, token: string | undefined = TOKEN): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = session.request({
      ":method": "POST",
      ":path": path,
      "content-type": "application/grpc",
      te: "trailers",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...extra,
    });
    const clean = (h: IncomingHttpHeaders) => {
      const o: Record<string, string> = {};
      for (const [k, v] of Object.entries(h)) {
        if (k.startsWith(":") || k === "date" || k === "x-request-id" || k === "x-ratelimit-remaining" || k === "x-ratelimit-reset" || v === undefined) continue;
        o[k] = String(v);
      }
      return o;
    };
    let headers: Record<string, string> = {};
    let trailers: Record<string, string> = {};
    const chunks: Buffer[] = [];
    req.on("response", (h) => (headers = clean(h)));
    req.on("trailers", (t) => (trailers = clean(t)));
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve({ headers, trailers, data: Buffer.concat(chunks) }));
    req.on("error", reject);
    req.end(body);
  });
}

const statusOf = (a: Answer) => {
  // Decoded as a Connect-ES client decodes it (grpc-status-details-bin first).
  const error = findTrailerError(new Headers(a.trailers["grpc-status"] ? a.trailers : a.headers));
  const info = error?.findDetails(ErrorInfoSchema)[0];
  return {
    code: Number(a.trailers["grpc-status"] ?? a.headers["grpc-status"]),
    message: decodeURIComponent(a.trailers["grpc-message"] ?? a.headers["grpc-message"] ?? ""),
    reason: info?.reason,
    metadata: info ? { ...info.metadata } : undefined,
  };
};

const leanCalls = async (url: string) => {
  const text = await (await fetch(`${url}/metrics/prometheus`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
  const m = /switchyard_grpc_lean_calls_total\{path="lean"\} (\d+)/.exec(text);
  return m ? Number(m[1]) : undefined;
};

describe("the lean gRPC path and Connect's path answer alike (Switchyard itself)", () => {
  let lean: TestServer;
  let plain: TestServer;
  let a: ClientHttp2Session;
  let b: ClientHttp2Session;
  beforeAll(async () => {
    [lean, plain] = await Promise.all([startTestServer({ ...ENV, SWITCHYARD_LEAN_GRPC: "1" }), startTestServer({ ...ENV, SWITCHYARD_LEAN_GRPC: "0" })]);
    a = sessionFor(lean.url);
    b = sessionFor(plain.url);
  });
  afterAll(async () => {
    for (const s of sessions) s.close();
    await Promise.all([lean?.close(), plain?.close()]);
  });
  const both = async (path: string, body: Uint8Array, extra?: Record<string, string>, token?: string | undefined) => {
    const args = [path, body, extra, token] as const;
    const [x, y] = await Promise.all([call(a, ...args), call(b, ...args)]);
    return [x, y] as const;
  };
  const SYS = "/switchyard.system.v1.SystemService";

  it("serves a unary call on the lean path (counted), with the same headers, trailers and message", async () => {
    const before = await leanCalls(lean.url);
    await both(`${SYS}/SetSetting`, msg(SetSettingRequestSchema, { name: "lean.a", value: { kind: { case: "stringValue", value: "x" } } }));
    const [x, y] = await both(`${SYS}/GetSetting`, msg(GetSettingRequestSchema, { name: "lean.a" }));
    expect(x.headers).toEqual(y.headers);
    expect(x.headers["content-type"]).toBe("application/grpc+proto");
    expect(x.headers["x-ratelimit-limit"]).toBe("100000");
    expect(x.trailers).toEqual({ "grpc-status": "0" });
    expect(x.trailers).toEqual(y.trailers);
    const decode = (d: Buffer) => {
      expect(d.readUInt32BE(1)).toBe(d.byteLength - 5);
      return fromBinary(GetSettingResponseSchema, d.subarray(5)).setting!;
    };
    const [sx, sy] = [decode(x.data), decode(y.data)];
    expect(sx.value).toEqual(sy.value);
    expect(sx.version).toBe(1n);
    expect((await leanCalls(lean.url))! - before!).toBe(2);
    expect(await leanCalls(plain.url)).toBeUndefined();
  });

  it("answers an error with byte-identical grpc-status, grpc-message and google.rpc.Status + ErrorInfo", async () => {
    for (const [path, body] of [
      [`${SYS}/GetSetting`, msg(GetSettingRequestSchema, { name: "does.not.exist" })],
      ["/switchyard.tasks.v1.TaskService/CreateTask", msg(CreateTaskRequestSchema, {})],
    ] as const) {
      const [x, y] = await both(path, body);
      expect(x.trailers).toEqual(y.trailers);
      expect(x.headers).toEqual(y.headers);
      expect(x.trailers["grpc-status-details-bin"]).toBeTruthy();
    }
    const [x] = await both(`${SYS}/GetSetting`, msg(GetSettingRequestSchema, { name: "does.not.exist" }));
    expect(statusOf(x)).toMatchObject({ code: Code.NotFound, reason: "SETTING_NOT_FOUND", metadata: { name: "does.not.exist" } });
    const [v] = await both("/switchyard.tasks.v1.TaskService/CreateTask", msg(CreateTaskRequestSchema, {}));
    expect(statusOf(v)).toMatchObject({ code: Code.InvalidArgument, reason: "INVALID_ARGUMENT" });
    // The request log line (call record) is the same on both paths.
    const line = (s: TestServer) => {
      const l = s.logs.filter((x) => x.msg === "request" && x.rpc === "switchyard.system.v1.SystemService/GetSetting" && x.code === "not_found").at(-1);
      return l && { ...l, time: undefined, duration_ms: undefined, request_id: undefined };
    };
    expect(line(lean)).toMatchObject({ protocol: "grpc", route: `${SYS}/GetSetting`, reason: "SETTING_NOT_FOUND", status: 404 });
    expect(line(lean)).toEqual(line(plain));
  });

  it("refuses a call without credentials as unauthenticated, alike", async () => {
    const [x, y] = await both(`${SYS}/GetSetting`, msg(GetSettingRequestSchema, { name: "lean.a" }), {}, "");
    expect(x.trailers).toEqual(y.trailers);
    expect(statusOf(x)).toMatchObject({ code: Code.Unauthenticated, reason: "UNAUTHENTICATED", metadata: { cause: "TOKEN_MISSING" } });
    const [bad] = await both(`${SYS}/GetSetting`, msg(GetSettingRequestSchema, { name: "lean.a" }), {}, "wrong-token-0123456789abcdef");
    expect(statusOf(bad)).toMatchObject({ code: Code.Unauthenticated, metadata: { cause: "TOKEN_INVALID" } });
  });

  it("answers an unknown method with unimplemented METHOD_NOT_FOUND, alike", async () => {
    const [x, y] = await both("/switchyard.nope.v1.Nope/Nothing", frame(new Uint8Array()));
    expect({ ...x.headers, ...x.trailers }).toEqual({ ...y.headers, ...y.trailers });
    expect(statusOf(x)).toMatchObject({ code: Code.Unimplemented, reason: "METHOD_NOT_FOUND" });
  });

  it("answers malformed and irregular frames with an error status, alike, and keeps serving", async () => {
    const info = msg(GetInfoRequestSchema, {});
    const cases: [string, Uint8Array, Record<string, string>?][] = [
      ["short body", Buffer.from([0, 0, 0, 0, 10, 1, 2])],
      ["half a header", Buffer.from([0, 0])],
      ["empty body", Buffer.alloc(0)],
      ["not protobuf", frame(Buffer.from([0xff, 0xff, 0xff, 0xff]))],
      ["compressed flag without grpc-encoding", frame(Buffer.from([8, 1]), 1)],
      ["two messages", Buffer.concat([info, info])],
      ["a gzip request", info, { "grpc-encoding": "gzip" }],
      ["a malformed grpc-timeout", info, { "grpc-timeout": "soon" }],
      ["a message over the size limit", Buffer.from([0, 0x7f, 0, 0, 0, 1, 2, 3])],
    ];
    for (const [name, body, extra] of cases) {
      const [x, y] = await both(`${SYS}/GetSetting`, body, extra);
      const sx = statusOf(x);
      expect({ name, code: sx.code > 0 }).toEqual({ name, code: true });
      expect({ name, status: sx }).toEqual({ name, status: statusOf(y) });
      expect({ name, trailers: x.trailers }).toEqual({ name, trailers: y.trailers });
    }
    expect(statusOf((await both(`${SYS}/GetSetting`, Buffer.from([0, 0x7f, 0, 0, 0])))[0])).toMatchObject({ code: Code.ResourceExhausted, reason: "BODY_TOO_LARGE" });
    const [ok] = await both(`${SYS}/GetInfo`, info);
    expect(statusOf(ok).code).toBe(0);
    expect(fromBinary(GetInfoResponseSchema, ok.data.subarray(5)).version).toBe("0.1.0");
  });

  it("lets go of a call whose client resets the stream before its message is complete", async () => {
    const req = a.request({ ":method": "POST", ":path": `${SYS}/GetInfo`, "content-type": "application/grpc", te: "trailers", authorization: `Bearer ${TOKEN}` });
    req.on("error", () => {});
    req.write(Buffer.from([0, 0, 0, 0, 20, 1, 2]));
    const closed = new Promise((resolve) => req.on("close", resolve));
    await Bun.sleep(20);
    req.close(8); // RST_STREAM CANCEL
    await closed;
    const deadline = Date.now() + 10_000;
    while (lean.app.handler.inFlight > 0 && Date.now() < deadline) await Bun.sleep(10);
    expect(lean.app.handler.inFlight).toBe(0);
    const [ok] = await both(`${SYS}/GetInfo`, msg(GetInfoRequestSchema, {}));
    expect(statusOf(ok).code).toBe(0);
  });

  it("works for a Connect-ES gRPC client, and a deadline over the maximum is refused as before", async () => {
    for (const s of [lean, plain]) {
      const c = clientFor(SystemService, s.url, "grpc", TOKEN);
      expect((await c.getInfo({}, { timeoutMs: 5000 })).version).toBe("0.1.0");
      const e = await c.getInfo({}, { timeoutMs: s.config.maxDeadlineMs + 1000 }).then(() => undefined, (x) => ConnectError.from(x));
      expect(e?.code).toBe(Code.InvalidArgument);
      expect(e?.findDetails(ErrorInfoSchema)[0]?.reason).toBe("DEADLINE_TOO_LONG");
    }
  });

  it("serves a worker stream (ConnectWorker) on the lean path: a whole dispatch round arrives, each task once", async () => {
    for (const s of [lean, plain]) {
      const before = await leanCalls(s.url);
      const c = clientFor(TaskService, s.url, "grpc", TOKEN);
      const queue = `lean-stream-${s === lean ? "a" : "b"}`;
      const abort = new AbortController();
      const got: string[] = [];
      let opened!: () => void;
      const ready = new Promise<void>((r) => (opened = r));
      let allIn!: () => void;
      const all = new Promise<void>((r) => (allIn = r));
      const reading = (async () => {
        for await (const m of c.connectWorker({ workerId: "w", queues: [queue], credits: 500 }, { signal: abort.signal })) {
          if (m.message.case === "session") opened();
          if (m.message.case === "assigned") {
            got.push(m.message.value.task!.id);
            if (got.length === 400) allIn();
          }
        }
      })().catch(() => {});
      await ready;
      // One batch: its dispatch round pushes 400 assignments in one turn of the loop.
      const made = await c.batchCreateTasks({ requests: Array.from({ length: 400 }, () => ({ task: { queue } })) });
      await all;
      expect(new Set(got).size).toBe(400);
      expect([...got].sort()).toEqual(made.tasks.map((t) => t.id).sort());
      abort.abort();
      await reading;
      if (s === lean) expect((await leanCalls(s.url))! - before!).toBeGreaterThanOrEqual(2); // the stream and the batch
      else expect(await leanCalls(s.url)).toBeUndefined();
    }
  });
});

let streamCleanups = 0;
let oversizeCleanups = 0;

describe("the lean gRPC path and Connect's path answer alike (handlers of a test service)", () => {
  // The real request handler, listener, router, auth gate and interceptors, serving SystemService
  // with handlers that set metadata, wait on their signal, or fail with a plain Error.
  const listeners: Listener[] = [];
  const urls: string[] = [];
  const shutdowns: AbortController[] = [];
  const impl = {
    getInfo(_req: unknown, ctx: HandlerContext) {
      ctx.responseHeader.set("x-handler-header", "h1");
      ctx.responseTrailer.set("x-handler-trailer", "t1");
      ctx.responseHeader.append("set-cookie", "a=1");
      ctx.responseHeader.append("set-cookie", "b=2");
      return { version: `tenant-less ${ctx.requestHeader.get("x-caller") ?? "?"}` };
    },
    getSetting(_req: unknown, ctx: HandlerContext) {
      // Answers only when its signal aborts (the deadline): as a handler that honours it would.
      return new Promise((_, reject) => {
        if (ctx.signal.aborted) reject(ctx.signal.reason);
        ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason), { once: true });
      });
    },
    listSettings() {
      throw new Error("a bug");
    },
    // A server stream whose request's interval (in seconds) picks what it does.
    async *watchHealth(req: { interval?: { seconds: bigint } }, ctx: HandlerContext) {
      const mode = Number(req.interval?.seconds ?? 0n);
      const health = (i: number) => ({ health: { draining: i % 2 === 1, components: [{ name: `c${i}` }] } });
      if (mode === 1) {
        // Many messages in one turn, then more after a pause: each arrives whole, in order.
        ctx.responseHeader.set("x-stream-header", "s1");
        for (let i = 0; i < 300; i++) yield health(i);
        await Bun.sleep(5);
        for (let i = 300; i < 310; i++) yield health(i);
        ctx.responseTrailer.set("x-stream-trailer", "t1");
        return;
      }
      if (mode === 2) {
        yield health(0);
        throw new ConnectError("no more", Code.ResourceExhausted);
      }
      if (mode === 3) {
        try {
          for (let i = 0; !ctx.signal.aborted; i++) {
            yield health(i);
            await Bun.sleep(2);
          }
        } finally {
          streamCleanups++;
        }
        return;
      }
      if (mode === 4) throw new Error("a bug before the first message");
      if (mode === 6) {
        // The second answer is over the 1 MiB message limit: it cannot be written.
        try {
          yield health(0);
          yield { health: { components: [{ name: "x".repeat(1100 * 1024) }] } };
          yield health(2);
        } finally {
          oversizeCleanups++;
        }
        return;
      }
      // 5: one large message after another (the writer's backpressure), 2 MiB in all.
      for (let i = 0; i < 64; i++) yield { health: { components: [{ name: "x".repeat(32 * 1024) }] } };
    },
  };
  beforeAll(async () => {
    for (const lean of [true, false]) {
      const config = loadConfig({ SWITCHYARD_DATA_DIR: "/tmp/unused", SWITCHYARD_API_TOKEN: TOKEN });
      const auth = createPrincipalResolver({ apiToken: config.apiToken, auth: config.auth });
      const rpc = createRpc({
        services: [SystemService],
        implementations: [{ service: SystemService, impl: impl as never }],
        log: silentLogger,
        maxMessageBytes: 1 << 20,
        maxDeadlineMs: 60_000,
        requestGate: createAuthGate(auth),
        shutdownSignal: shutdowns[shutdowns.push(new AbortController()) - 1]!.signal,
      });
      const handler = createRequestHandler({
        docs: undefined,
        auth,
        upgrades: [],
        handlers: rpc.handlers,
        rest: createRestRouter(rpc.methods.values()),
        legacy: createLegacyRouter([]),
        log: silentLogger,
        metrics: createRequestMetrics({ clock: systemClock, version: "test" }),
        health: createHealthMonitor({ clock: systemClock, checks: [] }),
        corsOrigins: ["*"],
        maxMessageBytes: 1 << 20,
        maxBodyBytes: 1 << 20,
        maxDeadlineMs: 60_000,
        leanGrpc: lean ? createLeanGrpc(rpc.unary) : undefined,
      });
      const l = await listen(handler, { host: "127.0.0.1", port: 0, maxConcurrentStreams: 100 });
      listeners.push(l);
      urls.push(`http://127.0.0.1:${l.port}`);
    }
  });
  afterAll(async () => {
    await Promise.all(listeners.map((l) => l.close(100)));
  });
  const both = async (path: string, body: Uint8Array, extra?: Record<string, string>) => {
    const [x, y] = await Promise.all(urls.map((u) => call(sessionFor(u), path, body, extra)));
    return [x!, y!] as const;
  };
  const SYS = "/switchyard.system.v1.SystemService";

  it("sends the response headers and trailers a handler sets, and hands it the request metadata", async () => {
    const [x, y] = await both(`${SYS}/GetInfo`, msg(GetInfoRequestSchema, {}), { "x-caller": "me" });
    expect(x.headers).toEqual(y.headers);
    expect(x.trailers).toEqual(y.trailers);
    expect(x.headers["x-handler-header"]).toBe("h1");
    expect(x.headers["set-cookie"]).toBe("a=1,b=2");
    expect(x.trailers).toEqual({ "grpc-status": "0", "x-handler-trailer": "t1" });
    expect(fromBinary(GetInfoResponseSchema, x.data.subarray(5)).version).toBe("tenant-less me");
  });

  it("aborts the handler's signal at the grpc-timeout deadline: deadline_exceeded with ErrorInfo, alike", async () => {
    const [x, y] = await both(`${SYS}/GetSetting`, msg(GetSettingRequestSchema, { name: "n" }), { "grpc-timeout": "50m" });
    expect(x.trailers).toEqual(y.trailers);
    expect(statusOf(x)).toMatchObject({ code: Code.DeadlineExceeded, reason: "DEADLINE_EXCEEDED" });
  });

  it("answers a plain Error as internal without its text, alike", async () => {
    const [x, y] = await both(`${SYS}/ListSettings`, frame(new Uint8Array()));
    expect(x.trailers).toEqual(y.trailers);
    expect(statusOf(x)).toMatchObject({ code: Code.Internal, message: "internal error", reason: "INTERNAL" });
  });

  it("answers an unbuilt method as unimplemented NOT_IMPLEMENTED, alike", async () => {
    const [x, y] = await both(`${SYS}/DeleteSetting`, frame(new Uint8Array()));
    expect(x.trailers).toEqual(y.trailers);
    expect(statusOf(x)).toMatchObject({ code: Code.Unimplemented, reason: "NOT_IMPLEMENTED" });
  });


  const watch = (seconds: number) => msg(WatchHealthRequestSchema, { interval: { seconds: BigInt(seconds) } });
  /** The length-prefixed messages of a stream's body. */
  const messages = (data: Buffer) => {
    const out: Buffer[] = [];
    for (let at = 0; at < data.byteLength; ) {
      expect(data[at]).toBe(0);
      const n = data.readUInt32BE(at + 1);
      out.push(data.subarray(at + 5, at + 5 + n));
      at += 5 + n;
    }
    return out;
  };

  it("streams a server-streaming call's messages whole and in order, with its headers and trailers, alike", async () => {
    const [x, y] = await both(`${SYS}/WatchHealth`, watch(1));
    expect(x.headers).toEqual(y.headers);
    expect(x.headers["x-stream-header"]).toBe("s1");
    expect(x.trailers).toEqual(y.trailers);
    expect(x.trailers).toEqual({ "grpc-status": "0", "x-stream-trailer": "t1" });
    expect(x.data.equals(y.data)).toBe(true);
    const names = messages(x.data).map((m) => fromBinary(WatchHealthResponseSchema, m).health!.components[0]!.name);
    expect(names).toEqual(Array.from({ length: 310 }, (_, i) => `c${i}`));
  });

  it("ends a stream that fails after its first message with the error's status in the trailers, alike", async () => {
    const [x, y] = await both(`${SYS}/WatchHealth`, watch(2));
    expect(x.trailers).toEqual(y.trailers);
    expect(statusOf(x)).toMatchObject({ code: Code.ResourceExhausted, message: "no more" });
    expect(messages(x.data)).toHaveLength(1);
    expect(x.data.equals(y.data)).toBe(true);
  });

  it("answers a stream that fails before its first message as internal, alike", async () => {
    const [x, y] = await both(`${SYS}/WatchHealth`, watch(4));
    expect(x.trailers).toEqual(y.trailers);
    expect(x.headers).toEqual(y.headers);
    expect(statusOf(x)).toMatchObject({ code: Code.Internal, message: "internal error" });
    expect(x.data.byteLength).toBe(0);
  });

  it("writes large streams under backpressure without losing a byte, alike", async () => {
    const [x, y] = await both(`${SYS}/WatchHealth`, watch(5));
    expect(x.trailers).toEqual({ "grpc-status": "0" });
    expect(messages(x.data)).toHaveLength(64);
    expect(x.data.equals(y.data)).toBe(true);
  });

  it("hands an irregular stream request to Connect (a compressed flag, two messages), alike", async () => {
    const body = Buffer.from(watch(1));
    const compressed = Buffer.from(body);
    compressed[0] = 1;
    for (const request of [compressed, Buffer.concat([body, body])]) {
      const [x, y] = await both(`${SYS}/WatchHealth`, request);
      expect(x.trailers).toEqual(y.trailers);
      expect(statusOf(x).code).not.toBe(0);
      expect(x.data.equals(y.data)).toBe(true);
    }
  });

  it("ends a stream at its grpc-timeout deadline with the same status, alike", async () => {
    const [x, y] = await both(`${SYS}/WatchHealth`, watch(3), { "grpc-timeout": "60m" });
    expect(x.trailers).toEqual(y.trailers);
    expect(statusOf(x).code).toBe(statusOf(y).code);
    expect(messages(x.data).length).toBeGreaterThan(0);
  });

  it("ends a stream whose answer is over the message limit with resource_exhausted and runs its cleanup, alike", async () => {
    const before = oversizeCleanups;
    const [x, y] = await both(`${SYS}/WatchHealth`, watch(6));
    expect(x.trailers).toEqual(y.trailers);
    expect(statusOf(x).code).toBe(Code.ResourceExhausted);
    expect(messages(x.data)).toHaveLength(1);
    for (let i = 0; i < 100 && oversizeCleanups - before < 2; i++) await Bun.sleep(10);
    expect(oversizeCleanups - before).toBe(2);
  });

  it("runs a stream's cleanup when its client resets it, on both paths", async () => {
    const before = streamCleanups;
    for (const url of urls) {
      const req = sessionFor(url).request({ ":method": "POST", ":path": `${SYS}/WatchHealth`, "content-type": "application/grpc", te: "trailers", authorization: `Bearer ${TOKEN}` });
      req.on("error", () => {});
      const got = new Promise<void>((resolve) => req.once("data", () => resolve()));
      req.end(watch(3));
      await got;
      req.close(); // RST_STREAM (cancel)
    }
    for (let i = 0; i < 100 && streamCleanups - before < 2; i++) await Bun.sleep(10);
    expect(streamCleanups - before).toBe(2);
  });

  // Last: the servers' shutdown signal aborts.
  it("ends a call in flight when the server shuts down (its signal aborts: unavailable), alike", async () => {
    const calls = both(`${SYS}/GetSetting`, msg(GetSettingRequestSchema, { name: "n" }));
    await Bun.sleep(50);
    for (const s of shutdowns) s.abort(new ConnectError("server is shutting down", Code.Unavailable));
    const [x, y] = await calls;
    expect(x.trailers).toEqual(y.trailers);
    expect(statusOf(x)).toMatchObject({ code: Code.Unavailable, message: "server is shutting down", reason: "UNAVAILABLE" });
  });
});

describe("a lean unary answer's trailers go in the same write as its data, unless flow control holds the data (src/server/h2-trailers.ts)", () => {
  let early: TestServer;
  let late: TestServer;
  beforeAll(async () => {
    [early, late] = await Promise.all([startTestServer(ENV), startTestServer({ ...ENV, SWITCHYARD_GRPC_TRAILERS_WITH_DATA: "0" })]);
  });
  afterAll(async () => {
    await Promise.all([early?.close(), late?.close()]);
  });
  const trailerWrites = async (url: string) => {
    const text = await (await fetch(`${url}/metrics/prometheus`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    const n = (write: string) => Number(new RegExp(`switchyard_grpc_lean_trailers_total\\{write="${write}"\\} (\\d+)`).exec(text)?.[1]);
    return { withData: n("with_data"), afterData: n("after_data") };
  };
  const CREATE = "/switchyard.tasks.v1.TaskService/CreateTask";
  /** A CreateTask whose answer carries a `size`-character payload back. */
  const createBody = (size: number) => msg(CreateTaskRequestSchema, { task: { queue: "trailers", payload: { kind: { case: "stringValue", value: "p".repeat(size) } } } });
  const payloadOf = (a: Answer) => {
    expect(a.data.readUInt32BE(1)).toBe(a.data.byteLength - 5);
    const task = fromBinary(CreateTaskResponseSchema, a.data.subarray(5)).task!;
    return task.payload?.kind.case === "stringValue" ? task.payload.kind.value : undefined;
  };
  const windowed = (url: string, initialWindowSize: number) => {
    const s = connect(url, { settings: { initialWindowSize } });
    s.on("error", () => {});
    sessions.push(s);
    return s;
  };

  it("sends a small answer's trailers with its data, counted, and the answer is whole", async () => {
    const before = await trailerWrites(early.url);
    const s = sessionFor(early.url);
    const answers = await Promise.all(Array.from({ length: 8 }, () => call(s, CREATE, createBody(100))));
    for (const a of answers) {
      expect(a.trailers).toEqual({ "grpc-status": "0" });
      expect(payloadOf(a)).toBe("p".repeat(100));
    }
    const after = await trailerWrites(early.url);
    expect(after.withData - before.withData).toBe(8);
    expect(after.afterData - before.afterData).toBe(0);
    // The response still finishes as far as the request log is concerned (its "finish" listener).
    expect(early.logs.filter((l) => l.msg === "request" && l.rpc === "switchyard.tasks.v1.TaskService/CreateTask" && l.code === "ok").length).toBeGreaterThanOrEqual(8);
    // An error answer (no data) is not counted either way.
    const bad = await call(s, CREATE, msg(CreateTaskRequestSchema, {}));
    expect(statusOf(bad).code).toBe(Code.InvalidArgument);
    expect(await trailerWrites(early.url)).toEqual(after);
  });

  it("leaves the trailers to the stream when the peer's window holds the data back: nothing is cut short", async () => {
    const before = await trailerWrites(early.url);
    // A 100-byte window: a 3 KB answer waits for window updates; trailers sent with the data
    // would end the stream after its first 100 bytes.
    const answer = await call(windowed(early.url, 100), CREATE, createBody(3000));
    expect(answer.trailers).toEqual({ "grpc-status": "0" });
    expect(payloadOf(answer)).toBe("p".repeat(3000));
    const after = await trailerWrites(early.url);
    expect(after.afterData - before.afterData).toBe(1);
    expect(after.withData - before.withData).toBe(0);
  });

  it("keeps every answer whole when small and held-back answers share one connection", async () => {
    const s = windowed(early.url, 2000);
    const sizes = Array.from({ length: 24 }, (_, i) => (i % 3 === 0 ? 6000 : 50));
    const answers = await Promise.all(sizes.map((n) => call(s, CREATE, createBody(n))));
    answers.forEach((a, i) => {
      expect(a.trailers).toEqual({ "grpc-status": "0" });
      expect(payloadOf(a)).toBe("p".repeat(sizes[i]!));
    });
  });

  it("SWITCHYARD_GRPC_TRAILERS_WITH_DATA=0 leaves every answer's trailers to the stream", async () => {
    const before = await trailerWrites(late.url);
    const answers = await Promise.all(Array.from({ length: 4 }, () => call(sessionFor(late.url), CREATE, createBody(100))));
    for (const a of answers) expect(payloadOf(a)).toBe("p".repeat(100));
    const after = await trailerWrites(late.url);
    expect(after.withData).toBe(0);
    expect(after.afterData - before.afterData).toBe(4);
  });
});
