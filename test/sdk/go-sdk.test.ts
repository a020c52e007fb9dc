// The Go SDK (sdk/go, connect-go over gRPC/h2c) against a real server: the shared SDK checks with
// a Go worker program (test/sdk/go), context cancellation with its cause, and errors matched by
// their ErrorInfo reason.
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot, startTestServer, type TestServer } from "../../src/testing/server.ts";
import { spawnLines } from "./helpers.ts";
import { checkCrash, checkDrain, checkOutcomes, checkThousand, type Spawn } from "./scenarios.ts";

let server: TestServer;
let dir: string;
let bin: string;
beforeAll(async () => {
  const setup = Bun.spawnSync(["bash", join(repoRoot, "scripts/setup-sdk.sh"), "go"], { stdout: "inherit", stderr: "inherit" });
  if (setup.exitCode !== 0) throw new Error("scripts/setup-sdk.sh go failed");
  dir = mkdtempSync(join(tmpdir(), "switchyard-go-sdk-"));
  bin = join(dir, "scenarios");
  const build = Bun.spawnSync(["go", "build", "-o", bin, "."], { cwd: join(repoRoot, "test/sdk/go"), stderr: "pipe" });
  if (build.exitCode !== 0) throw new Error(`go build failed: ${build.stderr.toString()}`);
  server = await startTestServer();
}, 180_000);
afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

const go: Spawn = (url, name, queue, opts = {}) => spawnLines([bin, url, name, queue, JSON.stringify(opts)]);

describe("Go SDK", () => {
  it("runs 1,000 tasks through one worker, each exactly once", () => checkThousand(go, server.url, server.config.databasePath, "go-thousand"), 60_000);

  it("retries a retryable failure, fails a non-retryable one at once, and reports progress", () => checkOutcomes(go, server.url, "go-outcomes"), 40_000);

  it("cancels a running handler's context with ErrCancelled as its cause; errors.Is matches reasons", async () => {
    const { code, last, stderr } = await go(server.url, "cancel", "go-cancel").done(40_000);
    expect({ code, stderr: code ? stderr : "" }).toEqual({ code: 0, stderr: "" });
    expect(last.reasons).toEqual(["switchyard: task cancelled", "switchyard: task cancelled", "switchyard: task cancelled"]);
    expect(last.states).toEqual(["CANCELLED", "CANCELLED", "CANCELLED"]);
    expect(last.stats).toMatchObject({ completed: 0, refused: 0, cancelled: 3 });
    expect(last.not_found).toEqual({ is: true, reason: "TASK_NOT_FOUND" });
  }, 40_000);

  it("drains on SIGTERM (signal.NotifyContext): finishes what runs, gives back what waits, exits 0", () => checkDrain(go, server.url, server.config.databasePath, "go-drain"), 60_000);

  it("survives a server SIGKILL and restart mid-run: reconnects, loses nothing, completes nothing twice", async () => {
    console.log(`go crash: ${await checkCrash(go, "go-crash")}`);
  }, 60_000);
});
