// The TypeScript SDK's own gRPC transport (sdk/typescript/src/h2-transport.ts) against real
// servers, next to @connectrpc/connect-node's gRPC transport as the reference: the same
// answers and the same errors, deadlines and cancellation, server streams cut anywhere,
// size limits both ways, interceptors, a server killed and restarted under an open stream,
// one that stops answering (PING keepalive), and an idle connection that does not keep the
// process alive.
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { toJson } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Interceptor, type Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TaskEventKind } from "../../gen/switchyard/tasks/v1/tasks_pb.js";
import { GetTaskResponseSchema, TaskService } from "../../gen/switchyard/tasks/v1/tasks_service_pb.js";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { freePort, repoRoot, startTestServer, waitForHttp, type TestServer } from "../../src/testing/server.ts";
import { createH2GrpcTransport } from "../../sdk/typescript/src/h2-transport.ts";
import { grpcTransport } from "../../sdk/typescript/src/node.ts";

let server: TestServer;
let authed: TestServer;
const TOKEN = "h2-transport-test-token-0123456789";
beforeAll(async () => {
  [server, authed] = await Promise.all([startTestServer(), startTestServer({ SWITCHYARD_API_TOKEN: TOKEN })]);
});
afterAll(async () => {
  await Promise.all([server?.close(), authed?.close()]);
});

const lean = (opts: Partial<Parameters<typeof createH2GrpcTransport>[0]> = {}, url = server.url) => createClient(TaskService, createH2GrpcTransport({ baseUrl: url, ...opts }));
const reference = (url = server.url) => createClient(TaskService, createGrpcTransport({ baseUrl: url }));

/** Runs `fn` with a server process of its own on a fixed port, which it may kill, stop and start again; then removes it. */
async function withServerProcess(fn: (s: { url: string; pid(): number; kill(): Promise<void>; start(): Promise<void> }) => Promise<void>): Promise<void> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "switchyard-h2-transport-"));
  const url = `http://127.0.0.1:${port}`;
  let proc: ReturnType<typeof Bun.spawn> | undefined;
  const kill = async () => {
    if (!proc) return;
    process.kill(proc.pid, "SIGCONT"); // in case it was stopped
    proc.kill("SIGKILL");
    await proc.exited;
    proc = undefined;
  };
  const start = async () => {
    proc = Bun.spawn(["bun", join(repoRoot, "src/main.ts")], {
      env: { ...process.env, SWITCHYARD_PORT: String(port), SWITCHYARD_HOST: "127.0.0.1", SWITCHYARD_DATA_DIR: dir, SWITCHYARD_LOG_LEVEL: "warn" },
      stdout: "ignore",
      stderr: "ignore",
    });
    await waitForHttp(`${url}/healthz`);
  };
  try {
    await start();
    await fn({ url, pid: () => proc!.pid, kill, start });
  } finally {
    await kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** What a caller can see of a failed call. */
async function failure(p: Promise<unknown>) {
  try {
    await p;
  } catch (e) {
    const c = ConnectError.from(e);
    return { code: Code[c.code], message: c.rawMessage, reason: c.findDetails(ErrorInfoSchema)[0]?.reason, field: c.findDetails(ErrorInfoSchema)[0]?.metadata.field };
  }
  throw new Error("the call succeeded");
}

describe("SDK gRPC transport (node:http2)", () => {
  it("answers unary calls as connect-node does: create, get, batch", async () => {
    const [a, b] = [lean(), reference()];
    const made = await a.createTask({ task: { queue: "h2-same", type: "echo", tags: ["x"] }, requestId: "h2-same-1" });
    expect(made.task?.queue).toBe("h2-same");
    const again = await b.createTask({ task: { queue: "h2-same", type: "echo", tags: ["x"] }, requestId: "h2-same-1" });
    expect(again.task?.id).toBe(made.task!.id); // the same idempotent task, whichever transport asked
    const [viaLean, viaRef] = await Promise.all([a.getTask({ id: made.task!.id }), b.getTask({ id: made.task!.id })]);
    expect(toJson(GetTaskResponseSchema, viaLean)).toEqual(toJson(GetTaskResponseSchema, viaRef));
    const many = await a.batchCreateTasks({ requests: Array.from({ length: 50 }, (_, i) => ({ task: { queue: "h2-same", type: `t${i}` } })) });
    expect(many.tasks.map((t) => t.type)).toEqual(Array.from({ length: 50 }, (_, i) => `t${i}`));
  });

  it("fails as connect-node does: code, message, ErrorInfo reason and field", async () => {
    const [a, b] = [lean(), reference()];
    for (const call of [(c: typeof a) => c.getTask({ id: "tsk_missing" }), (c: typeof a) => c.createTask({}), (c: typeof a) => c.createTask({ task: { queue: "" } })]) {
      const [x, y] = [await failure(call(a)), await failure(call(b))];
      expect(x).toEqual(y);
      expect(x.code === "NotFound" || x.code === "InvalidArgument").toBe(true);
      expect(x.reason).toBeTruthy();
    }
    // A trailers-only answer (the status in the response head): a method the server does not have.
    const missing = { ...TaskService.method.getTask, name: "NoSuchMethod" } as typeof TaskService.method.getTask;
    const unknown = async (t: Transport) => failure(t.unary(missing, undefined, undefined, undefined, { id: "x" }));
    const [x, y] = [await unknown(createH2GrpcTransport({ baseUrl: server.url })), await unknown(createGrpcTransport({ baseUrl: server.url }))];
    expect(x).toEqual(y);
    expect(x).toMatchObject({ code: "Unimplemented", reason: "METHOD_NOT_FOUND" });
  });

  it("carries response headers and trailers, and runs interceptors on the request", async () => {
    const seen: string[] = [];
    const tag: Interceptor = (next) => async (req) => {
      req.header.set("x-request-id", "h2-interceptor-1");
      const res = await next(req);
      seen.push(res.header.get("x-request-id") ?? "none", res.stream ? "stream" : res.trailer.get("grpc-status") ?? "no trailer");
      return res;
    };
    await lean({ interceptors: [tag] }).createTask({ task: { queue: "h2-headers" } });
    expect(seen).toEqual(["h2-interceptor-1", "0"]);
  });

  it("sends the SDK's bearer token (grpcTransport): refused without it, accepted with it", async () => {
    const anonymous = createClient(TaskService, grpcTransport(authed.url));
    expect((await failure(anonymous.getTask({ id: "tsk_x" }))).code).toBe("Unauthenticated");
    const signedIn = createClient(TaskService, grpcTransport(authed.url, { token: TOKEN }));
    expect((await signedIn.createTask({ task: { queue: "h2-auth" } })).task?.queue).toBe("h2-auth");
  });

  it("streams: every event of 300 tasks in order (some spanning many DATA frames), then cancels on abort with code canceled", async () => {
    const client = lean();
    const ctl = new AbortController();
    const events: string[] = [];
    const watching = failure(
      (async () => {
        for await (const m of client.watchTaskEvents({ queues: ["h2-stream"], kinds: [TaskEventKind.CREATED] }, { signal: ctl.signal })) {
          events.push(m.event!.task!.id);
          if (events.length === 300) ctl.abort();
        }
      })(),
    );
    await Bun.sleep(100); // the watch is registered
    const made = await client.batchCreateTasks({ requests: Array.from({ length: 300 }, (_, i) => ({ task: { queue: "h2-stream", payload: { kind: { case: "stringValue", value: "p".repeat(i % 50 === 7 ? 100_000 : 900) } } } })) });
    expect((await watching).code).toBe("Canceled");
    expect(events).toEqual(made.tasks.map((t) => t.id));
  });

  it("ends a stream at its deadline with deadline_exceeded, and refuses a deadline the server does not allow", async () => {
    const client = lean();
    const t0 = Date.now();
    const watched = (async () => {
      for await (const _ of client.watchTaskEvents({ queues: ["h2-deadline"] }, { timeoutMs: 300 })) void _;
    })();
    expect((await failure(watched)).code).toBe("DeadlineExceeded");
    expect(Date.now() - t0).toBeGreaterThanOrEqual(280);
    // 400,000,000 ms is sent in seconds (grpc-timeout allows 8 digits) and refused by the server's limit.
    expect(await failure(client.getTask({ id: "tsk_x" }, { timeoutMs: 400_000_000 }))).toMatchObject({ code: "InvalidArgument", reason: "DEADLINE_TOO_LONG" });
  });

  it("a signal aborted before the call never sends it", async () => {
    const ctl = new AbortController();
    ctl.abort();
    expect((await failure(lean().createTask({ task: { queue: "h2-never" } }, { signal: ctl.signal }))).code).toBe("Canceled");
    const listed = await reference().listTasks({ queues: ["h2-never"] });
    expect(listed.tasks).toHaveLength(0);
  });

  it("reads a response spread over many HTTP/2 frames, and enforces readMaxBytes and writeMaxBytes", async () => {
    const big = "b".repeat(300_000); // ~19 DATA frames of 16 KiB
    const made = await lean().createTask({ task: { queue: "h2-big", payload: { kind: { case: "stringValue", value: big } } } });
    const got = await lean().getTask({ id: made.task!.id });
    expect(got.task?.payload?.kind.value).toBe(big);
    expect((await failure(lean({ readMaxBytes: 100_000 }).getTask({ id: made.task!.id }))).code).toBe("ResourceExhausted");
    const refused = await failure(lean({ writeMaxBytes: 100_000 }).createTask({ task: { queue: "h2-too-big", payload: { kind: { case: "stringValue", value: big } } } }));
    expect(refused.code).toBe("ResourceExhausted");
    expect((await reference().listTasks({ queues: ["h2-too-big"] })).tasks).toHaveLength(0); // never sent
  });

  it("reports a server that is not there as unavailable", async () => {
    const port = await freePort();
    expect((await failure(lean({}, `http://127.0.0.1:${port}`).getTask({ id: "tsk_x" }))).code).toBe("Unavailable");
  });

  it("fails an open stream when the server is killed, and connects again once it is back", () =>
    withServerProcess(async ({ url, kill, start }) => {
      const client = lean({}, url);
      const made = await client.createTask({ task: { queue: "h2-kill" } });
      const watching = failure(
        (async () => {
          for await (const _ of client.watchTaskEvents({ queues: ["h2-kill"] })) void _;
        })(),
      );
      await Bun.sleep(100);
      await kill();
      expect(await watching).toMatchObject({ code: "Unavailable" }); // what the SDK's worker retries on
      await start();
      expect((await client.getTask({ id: made.task!.id })).task?.id).toBe(made.task!.id); // the same transport, a new connection
    }), 30_000);

  it("with pingIntervalMs, fails a stream whose server stopped answering (SIGSTOP) instead of waiting forever", () =>
    withServerProcess(async ({ url, pid }) => {
      const client = lean({ pingIntervalMs: 100, pingTimeoutMs: 300 }, url);
      await client.createTask({ task: { queue: "h2-ping" } });
      let ended = false;
      const watching = failure(
        (async () => {
          for await (const _ of client.watchTaskEvents({ queues: ["h2-ping"] })) void _;
        })(),
      ).finally(() => (ended = true));
      await Bun.sleep(500);
      expect(ended).toBe(false); // pings answered: the stream stays open
      process.kill(pid(), "SIGSTOP");
      const t0 = Date.now();
      expect(await watching).toMatchObject({ code: "Unavailable" });
      expect(Date.now() - t0).toBeLessThan(3_000);
    }), 30_000);

  it("refuses client- and bidi-streaming calls with unimplemented (Switchyard's API has none)", async () => {
    const t = createH2GrpcTransport({ baseUrl: server.url });
    const bidi = { ...TaskService.method.watchTaskEvents, methodKind: "bidi_streaming" } as never;
    expect(await failure(t.stream(bidi, undefined, undefined, undefined, (async function* () {})()))).toMatchObject({ code: "Unimplemented" });
  });

  it("does not keep the process alive once its calls are done", async () => {
    const script = `
      import { createClient } from "@connectrpc/connect";
      import { TaskService } from "${join(repoRoot, "gen/switchyard/tasks/v1/tasks_service_pb.js")}";
      import { createH2GrpcTransport } from "${join(repoRoot, "sdk/typescript/src/h2-transport.ts")}";
      const c = createClient(TaskService, createH2GrpcTransport({ baseUrl: process.argv[2] }));
      const t = await c.createTask({ task: { queue: "h2-exit" } });
      console.log(t.task.id);`;
    const dir = mkdtempSync(join(repoRoot, ".tmp-h2-exit-"));
    try {
      const file = join(dir, "call.ts");
      await Bun.write(file, script);
      const t0 = Date.now();
      const p = Bun.spawn(["bun", file, server.url], { stdout: "pipe", stderr: "pipe" });
      const killer = setTimeout(() => p.kill(), 10_000);
      const [out, code] = [await new Response(p.stdout).text(), await p.exited];
      clearTimeout(killer);
      expect({ code, id: /^task_\w+$/.test(out.trim()) }).toEqual({ code: 0, id: true });
      expect(Date.now() - t0).toBeLessThan(8_000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 15_000);

  it("refuses a base URL that is not http or https", () => {
    expect(() => createH2GrpcTransport({ baseUrl: "ftp://example.com" })).toThrow(/expected http/);
  });
});

