import { describe, expect, it } from "bun:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { AppError } from "../core/errors.ts";
import { createLogger } from "../core/logger.ts";
import { errorInfo, toConnectError } from "./errors.ts";

function capture() {
  const lines: Record<string, unknown>[] = [];
  return { log: createLogger("debug", (line) => lines.push(JSON.parse(line))), lines };
}

describe("toConnectError", () => {
  it("keeps an AppError's code, reason and metadata", () => {
    const { log, lines } = capture();
    const e = toConnectError(new AppError("failed_precondition", "LEASE_LOST", "stale token", { id: "task_1" }), log);
    expect(e.code).toBe(Code.FailedPrecondition);
    expect(errorInfo(e)).toMatchObject({ reason: "LEASE_LOST", domain: "switchyard", metadata: { id: "task_1" } });
    expect(lines).toHaveLength(0);
  });

  it("turns an unknown error into a generic internal error and logs its cause once", () => {
    const { log, lines } = capture();
    const e = toConnectError(new TypeError("cannot read properties of undefined (secret detail)"), log, { rpc: "x/Y" });
    expect(e.code).toBe(Code.Internal);
    expect(e.rawMessage).toBe("internal error");
    expect(errorInfo(e)?.reason).toBe("INTERNAL");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: "error", rpc: "x/Y" });
    expect(JSON.stringify(lines[0])).toContain("secret detail");
  });

  it("gives framework errors a reason named after their code and the field of decoding errors", () => {
    const { log } = capture();
    const e = toConnectError(new ConnectError('cannot decode message a.B from JSON: key "colour" is unknown', Code.InvalidArgument), log);
    expect(errorInfo(e)).toMatchObject({ reason: "INVALID_ARGUMENT", metadata: { field: "colour" } });
  });
});
