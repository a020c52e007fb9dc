// SDK benchmark: tasks/s through one worker with no-op handlers, each SDK against the loop a
// worker writes over the generated stubs alone (same language, same credits), against one real
// server process. Only the draining is timed (the batch is enqueued first).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, repoRoot, waitForHttp } from "../src/testing/server.ts";
import { spawnLines } from "../test/sdk/helpers.ts";

export interface SdkRow {
  sdk: string;
  loop: "sdk" | "raw";
  tasks: number;
  ms: number;
  tasksPerSecond: number;
}

export async function sdkBench(n = Number(process.env.SDK_BENCH_TASKS ?? 5000), concurrency = 64): Promise<{ rows: SdkRow[]; settings: string }> {
  const setup = Bun.spawnSync(["bash", join(repoRoot, "scripts/setup-sdk.sh")], { stdout: "inherit", stderr: "inherit" });
  if (setup.exitCode !== 0) throw new Error("scripts/setup-sdk.sh failed");
  const dir = mkdtempSync(join(tmpdir(), "switchyard-sdk-bench-"));
  const goBin = join(dir, "go-scenarios");
  const build = Bun.spawnSync(["go", "build", "-o", goBin, "."], { cwd: join(repoRoot, "test/sdk/go"), stderr: "pipe" });
  if (build.exitCode !== 0) throw new Error(`go build: ${build.stderr}`);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const server = Bun.spawn(["bun", join(repoRoot, "src/main.ts")], {
    env: { ...process.env, SWITCHYARD_PORT: String(port), SWITCHYARD_HOST: "127.0.0.1", SWITCHYARD_DATA_DIR: join(dir, "data"), SWITCHYARD_LOG_LEVEL: "warn" },
    stdout: "ignore",
    stderr: "ignore",
  });
  const programs: Record<string, string[]> = {
    python: [join(repoRoot, ".venv-sdk/bin/python"), join(repoRoot, "test/sdk/python/scenarios.py"), `127.0.0.1:${port}`],
    typescript: ["bun", join(repoRoot, "test/sdk/typescript/scenarios.ts"), url],
    go: [goBin, url],
  };
  const rows: SdkRow[] = [];
  try {
    await waitForHttp(`${url}/healthz`);
    for (const [sdk, cmd] of Object.entries(programs)) {
      for (const loop of ["raw", "sdk"] as const) {
        const queue = `bench-${sdk}-${loop}`;
        const { code, last, stderr } = await spawnLines([...cmd, loop === "sdk" ? "thousand" : "raw", queue, JSON.stringify({ n, concurrency })]).done(300_000);
        if (code !== 0) throw new Error(`${sdk} ${loop}: exit ${code}: ${stderr}`);
        rows.push({ sdk, loop, tasks: n, ms: last.elapsed_ms, tasksPerSecond: Math.round((n / last.elapsed_ms) * 1000) });
      }
    }
  } finally {
    server.kill("SIGTERM");
    await server.exited;
    rmSync(dir, { recursive: true, force: true });
  }
  const load = (await import("node:os")).loadavg().map((x) => x.toFixed(1)).join(" / ");
  return { rows, settings: `Load average when done (1/5/15 min): ${load} — the machine is shared, compare rows of one run only. ${n} tasks per row, no-op handlers (payload × 2), one worker with ${concurrency} credits, one server process (\`src/main.ts\`, SQLite WAL synced before each answer), gRPC over h2c on loopback.` };
}

if (import.meta.main) console.log(await sdkBench());
