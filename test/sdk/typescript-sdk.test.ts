// The TypeScript SDK (sdk/typescript) against a real server: the shared SDK checks with worker
// programs under Bun over gRPC, the 1,000-task run also bundled and run under Node, the client
// over the Connect protocol (what browsers speak), and AbortSignal cancellation.
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot, startTestServer, type TestServer } from "../../src/testing/server.ts";
import { SwitchyardClient, SwitchyardError } from "../../sdk/typescript/src/index.ts";
import { connectTransport } from "../../sdk/typescript/src/node.ts";
import { spawnLines } from "./helpers.ts";
import { checkCrash, checkDrain, checkOutcomes, checkThousand, type Spawn } from "./scenarios.ts";

const script = join(repoRoot, "test/sdk/typescript/scenarios.ts");
let server: TestServer;
let bundleDir: string;
beforeAll(async () => {
  server = await startTestServer();
  bundleDir = mkdtempSync(join(tmpdir(), "switchyard-ts-sdk-"));
});
afterAll(async () => {
  await server?.close();
  rmSync(bundleDir, { recursive: true, force: true });
});

const bun: Spawn = (url, name, queue, opts = {}) => spawnLines(["bun", script, url, name, queue, JSON.stringify(opts)]);

describe("TypeScript SDK", () => {
  it("runs 1,000 tasks through one worker under Bun, each exactly once", () => checkThousand(bun, server.url, server.config.databasePath, "ts-thousand"), 60_000);

  it("runs 300 tasks through one worker under Node (bundled with bun build --target node)", async () => {
    const out = join(bundleDir, "scenarios.mjs");
    const build = Bun.spawnSync(["bun", "build", script, "--target", "node", "--outfile", out], { cwd: repoRoot, stderr: "pipe" });
    expect(build.exitCode, build.stderr.toString()).toBe(0);
    const node: Spawn = (url, name, queue, opts = {}) => spawnLines(["node", out, url, name, queue, JSON.stringify(opts)]);
    await checkThousand(node, server.url, server.config.databasePath, "ts-node-thousand", 300);
  }, 60_000);

  it("retries a retryable failure, fails a non-retryable one at once, and reports progress", () => checkOutcomes(bun, server.url, "ts-outcomes"), 40_000);

  it("aborts a running handler's AbortSignal on cancel, with the reason, and keeps working", async () => {
    const { code, last, stderr } = await bun(server.url, "cancel", "ts-cancel").done(40_000);
    expect({ code, stderr: code ? stderr : "" }).toEqual({ code: 0, stderr: "" });
    expect(last.reasons).toEqual(["cancelled", "cancelled", "cancelled"]);
    expect(last.states).toEqual(["CANCELLED", "CANCELLED", "CANCELLED"]);
    expect(last.stats).toMatchObject({ completed: 0, refused: 0, cancelled: 3 });
  }, 40_000);

  it("drains on SIGTERM: finishes what runs, gives back what waits, exits 0", () => checkDrain(bun, server.url, server.config.databasePath, "ts-drain"), 60_000);

  it("survives a server SIGKILL and restart mid-run: reconnects, loses nothing, completes nothing twice", async () => {
    console.log(`typescript crash: ${await checkCrash(bun, "ts-crash")}`);
  }, 60_000);

  it("bundles its main entry for browsers with no Node module in it", () => {
    const out = join(bundleDir, "browser.js");
    const build = Bun.spawnSync(["bun", "build", join(repoRoot, "sdk/typescript/src/index.ts"), "--target", "browser", "--outfile", out], { stderr: "pipe" });
    expect(build.exitCode, build.stderr.toString()).toBe(0);
    const text = require("node:fs").readFileSync(out, "utf8") as string;
    expect(text.includes("class SwitchyardClient")).toBe(true);
    expect(text.match(/node:[a-z]+|http2/g)).toBeNull();
  });

  it("works as a client over the Connect protocol (browser transport): enqueue, batch, get, wait, watch, errors", async () => {
    const client = new SwitchyardClient(connectTransport(server.url));
    const t = await client.enqueue("ts-client", "echo", { hello: "world" }, { priority: 5, requestId: "ts-client-1", tags: ["a"] });
    expect(t).toMatchObject({ queue: "ts-client", type: "echo", state: "PENDING", payload: { hello: "world" }, priority: 5, tags: ["a"] });
    expect((await client.enqueue("ts-client", "echo", { other: 1 }, { requestId: "ts-client-1" })).id).toBe(t.id); // idempotent
    const batch = await client.enqueueMany(Array.from({ length: 1200 }, (_, i) => ({ queue: "ts-client-batch", payload: i })));
    expect(batch.map((b) => b.payload)).toEqual(Array.from({ length: 1200 }, (_, i) => i));
    expect((await client.get(t.id)).id).toBe(t.id);
    const listed = [];
    for await (const x of client.list({ queues: ["ts-client"], states: ["PENDING"] })) listed.push(x.id);
    expect(listed).toEqual([t.id]);

    const ctl = new AbortController();
    const events: string[] = [];
    const watching = (async () => {
      for await (const e of client.watch({ taskIds: [t.id] }, ctl.signal)) {
        events.push(e.kind);
        if (e.kind === "CANCELLED") ctl.abort();
      }
    })();
    const waited = client.wait(t.id, { timeoutMs: 20_000 });
    await Bun.sleep(200); // let the watch subscribe; wait() does not need it (it re-reads)
    await client.cancel(t.id, "done with it");
    expect((await waited).state).toBe("CANCELLED");
    await watching;
    expect(events).toContain("CANCELLED");

    const missing = await client.get("no-such-task").catch((e) => e);
    expect(missing).toBeInstanceOf(SwitchyardError);
    expect({ code: missing.codeName, reason: missing.reason }).toEqual({ code: "NOT_FOUND", reason: "TASK_NOT_FOUND" });
    await expect(client.wait(batch[0]!.id, { timeoutMs: 300 })).rejects.toMatchObject({ reason: "WAIT_TIMEOUT" });
  }, 30_000);
});
