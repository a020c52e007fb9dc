import { describe, expect, it } from "bun:test";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextValues } from "@connectrpc/connect";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { GetInfoRequestSchema, SystemService } from "../../gen/switchyard/system/v1/system_service_pb.js";
import { silentLogger } from "../core/logger.ts";
import { AppError } from "../core/errors.ts";
import { invokeUnary, RpcHandlers } from "./invoke.ts";
import { createRpc } from "./rpc.ts";

// Every RPC of today's contract is served; an RPC added to the protos before its domain answers
// `unimplemented` naming itself (ErrorInfo NOT_IMPLEMENTED), whatever its request holds.
describe("an RPC whose domain is not built", () => {
  it("answers unimplemented, naming the RPC, with ErrorInfo", async () => {
    const rpc = createRpc({ services: [SystemService], implementations: [], log: silentLogger, maxMessageBytes: 1 << 20, maxDeadlineMs: 60_000, shutdownSignal: new AbortController().signal });
    const error = await invokeUnary(rpc.handlers, SystemService.method.getInfo, create(GetInfoRequestSchema), {
      header: new Headers(),
      contextValues: createContextValues(),
      signal: new AbortController().signal,
      maxMessageBytes: 1 << 20,
    }).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(error?.code).toBe(Code.Unimplemented);
    expect(error?.rawMessage).toContain("switchyard.system.v1.SystemService.GetInfo");
    expect(error?.findDetails(ErrorInfoSchema)[0]?.reason).toBe("NOT_IMPLEMENTED");
  });
});

// REST and legacy routes call unary RPCs directly (invoke.ts, RpcHandlers); a plain map of the
// same handlers goes through Connect's handler in binary. Both must answer alike.
describe("an in-process unary call, direct and through Connect", () => {
  const options = (signal = new AbortController().signal, header = new Headers()) => ({ header, contextValues: createContextValues(), signal, maxMessageBytes: 1 << 20 });
  const outcome = (p: Promise<unknown>) =>
    p.then(
      (v) => ({ ok: true as const, v }),
      (e: unknown) => {
        const c = ConnectError.from(e);
        return { ok: false as const, code: c.code, message: c.rawMessage, reason: c.findDetails(ErrorInfoSchema)[0]?.reason };
      },
    );
  function build(impl: Record<string, unknown>, gate?: (ctx: { requestHeader: Headers }) => void) {
    const rpc = createRpc({
      services: [SystemService],
      implementations: [{ service: SystemService, impl } as never],
      log: silentLogger,
      maxMessageBytes: 1 << 20,
      maxDeadlineMs: 60_000,
      shutdownSignal: new AbortController().signal,
      requestGate: gate as never,
    });
    return { direct: rpc.handlers, viaConnect: new Map(rpc.handlers) };
  }

  it("takes the direct path only with RpcHandlers, and both answer the same message", async () => {
    let calls = 0;
    const { direct, viaConnect } = build({ getInfo: () => (calls++, { version: "9.9.9" }) });
    expect(direct).toBeInstanceOf(RpcHandlers);
    expect(viaConnect).not.toBeInstanceOf(RpcHandlers);
    const a = await invokeUnary(direct, SystemService.method.getInfo, create(GetInfoRequestSchema), options());
    const b = await invokeUnary(viaConnect, SystemService.method.getInfo, create(GetInfoRequestSchema), options());
    expect(a.version).toBe("9.9.9");
    expect(b.version).toBe("9.9.9");
    expect(calls).toBe(2);
  });

  it("runs the request gate first: a refusal is the same error on both paths and the handler never runs", async () => {
    let ran = false;
    const { direct, viaConnect } = build(
      { getInfo: () => ((ran = true), {}) },
      (ctx) => {
        if (ctx.requestHeader.get("authorization") !== "Bearer ok") throw new AppError("unauthenticated", "TOKEN_MISSING", "no token");
      },
    );
    for (const handlers of [direct, viaConnect]) {
      const refused = await outcome(invokeUnary(handlers, SystemService.method.getInfo, create(GetInfoRequestSchema), options()));
      expect(refused).toEqual({ ok: false, code: Code.Unauthenticated, message: "no token", reason: "TOKEN_MISSING" });
      expect(ran).toBe(false);
    }
    for (const handlers of [direct, viaConnect]) {
      const admitted = await outcome(invokeUnary(handlers, SystemService.method.getInfo, create(GetInfoRequestSchema), options(undefined, new Headers({ authorization: "Bearer ok" }))));
      expect(admitted.ok).toBe(true);
    }
    expect(ran).toBe(true);
  });

  it("maps a domain error and a plain Error alike on both paths", async () => {
    for (const thrown of [new AppError("not_found", "THING_NOT_FOUND", "no such thing"), new Error("boom")]) {
      const { direct, viaConnect } = build({
        getInfo: () => {
          throw thrown;
        },
      });
      const a = await outcome(invokeUnary(direct, SystemService.method.getInfo, create(GetInfoRequestSchema), options()));
      const b = await outcome(invokeUnary(viaConnect, SystemService.method.getInfo, create(GetInfoRequestSchema), options()));
      expect(a.ok).toBe(false);
      expect(a).toEqual(b);
    }
  });

  it("aborts the handler's signal when the caller goes away, and once the call is over", async () => {
    let seen: AbortSignal | undefined;
    const { direct } = build({
      getInfo: (_req: unknown, ctx: { signal: AbortSignal }) => {
        seen = ctx.signal;
        return new Promise((_, reject) => ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason), { once: true }));
      },
    });
    const caller = new AbortController();
    const pending = outcome(invokeUnary(direct, SystemService.method.getInfo, create(GetInfoRequestSchema), options(caller.signal)));
    await Bun.sleep(5);
    expect(seen?.aborted).toBe(false);
    caller.abort(new ConnectError("client went away", Code.Canceled));
    const r = await pending;
    expect(r.ok).toBe(false);
    expect(seen?.aborted).toBe(true);

    let done: AbortSignal | undefined;
    const { direct: quick } = build({ getInfo: (_req: unknown, ctx: { signal: AbortSignal }) => ((done = ctx.signal), {}) });
    await invokeUnary(quick, SystemService.method.getInfo, create(GetInfoRequestSchema), options());
    expect(done?.aborted).toBe(true);
  });
});
