import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { join } from "node:path";
import { repoRoot, startTestServer, type TestServer } from "../../src/testing/server.ts";

// A Go gRPC worker (test/go) against a real server: stubs generated from proto/ by
// scripts/gen-stubs.sh (protoc-gen-go + protoc-gen-go-grpc, installed with `go install` once),
// then `go test`. Go is required: a missing toolchain fails this test, it does not skip it.

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

async function run(cmd: string[], cwd: string, env: Record<string, string> = {}) {
  const proc = Bun.spawn(cmd, { cwd, env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, out, err };
}

describe("a Go worker", () => {
  it("generates stubs from proto/, holds a worker stream, completes tasks, and decodes ErrorInfo on a stale fencing token", async () => {
    const gen = await run(["bash", "scripts/gen-stubs.sh", "go", "test/go/gen/go"], repoRoot);
    expect(gen.err + gen.out).not.toContain("rror");
    expect(gen.code).toBe(0);
    const test = await run(["go", "test", "-count=1", "-v", "./..."], join(repoRoot, "test/go"), { SWITCHYARD_ADDR: `127.0.0.1:${server.port}` });
    if (test.code !== 0) console.error(test.out, test.err);
    expect(test.code).toBe(0);
    expect(test.out).toContain("--- PASS: TestWorkerStreamCompletesPushedTasks");
    expect(test.out).toContain("--- PASS: TestStaleFencingTokenIsRefusedWithErrorInfo");
  }, 300_000);
});
