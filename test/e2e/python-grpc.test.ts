import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { join } from "node:path";
import { preparePython, runPython } from "../../src/testing/python.ts";
import { repoRoot, startTestServer, type TestServer } from "../../src/testing/server.ts";

let server: TestServer;
let py: { python: string; stubs: string };
beforeAll(async () => {
  py = await preparePython();
  server = await startTestServer();
}, 180_000);
afterAll(() => server?.close());

describe("a Python grpcio client", () => {
  it("makes unary and server-streaming calls and reads not_found with its ErrorInfo reason", async () => {
    const out = await runPython(py.python, [join(repoRoot, "test/python/system_client.py"), `127.0.0.1:${server.port}`, py.stubs]);
    expect(out).toEqual({
      version: "0.1.0",
      serving: "SERVING",
      stream: ["HEALTH_STATUS_HEALTHY", "HEALTH_STATUS_HEALTHY", "HEALTH_STATUS_HEALTHY"],
      not_found: { code: "NOT_FOUND", reasons: ["SETTING_NOT_FOUND"], message: "setting missing.setting does not exist" },
      unknown_service: "NOT_FOUND",
    });
  });
});
