import { describe, expect, it } from "bun:test";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextValues } from "@connectrpc/connect";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { GetInfoRequestSchema, SystemService } from "../../gen/switchyard/system/v1/system_service_pb.js";
import { silentLogger } from "../core/logger.ts";
import { invokeUnary } from "./invoke.ts";
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
