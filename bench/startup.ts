// Cold start and idle memory (issue 14: cold start < 300 ms, idle RSS < 80 MB): builds the
// bundle (`bun run build`), then in interleaved rounds starts the server from source
// (`bun src/main.ts`) and from the bundle (`bun dist/main.js`, what the Docker image runs), each
// on a fresh data dir (first start: every migration) and again on that same dir (a restart);
// times spawn → first `/readyz` 200, waits BENCH_IDLE_MS (default 5 s) idle, reads VmRSS from
// /proc. Then, in fresh processes, the RSS of importing each part alone (what could be loaded
// lazily). `bun run bench startup` (written to bench/results/) or `bun bench/startup.ts`.
// Asserts nothing.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, repoRoot } from "../src/testing/server.ts";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const IDLE_MS = Number(process.env.BENCH_IDLE_MS ?? 5000);
const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) / 1024;

async function startOnce(entry: string, dataDir: string, env: Record<string, string> = {}): Promise<{ readyMs: number; rssMb: number }> {
  const port = await freePort();
  const t0 = performance.now();
  const flags = process.env.BENCH_BUN_FLAGS ? process.env.BENCH_BUN_FLAGS.split(" ") : [];
  const p = Bun.spawn(["bun", ...flags, join(repoRoot, entry)], {
    env: { ...process.env, SWITCHYARD_PORT: String(port), SWITCHYARD_HOST: "127.0.0.1", SWITCHYARD_DATA_DIR: dataDir, SWITCHYARD_LOG_LEVEL: "warn", ...env },
    stdout: "ignore",
    stderr: "ignore",
  });
  try {
    let readyMs = NaN;
    while (performance.now() - t0 < 20_000) {
      try {
        if ((await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200) {
          readyMs = performance.now() - t0;
          break;
        }
      } catch {}
      await Bun.sleep(2);
    }
    await Bun.sleep(IDLE_MS);
    return { readyMs: Math.round(readyMs), rssMb: Math.round(rssMb(p.pid) * 10) / 10 };
  } finally {
    p.kill("SIGTERM");
    await p.exited;
  }
}

/** RSS of a fresh Bun process after importing `modules` (and a GC), in MB. */
async function importRss(modules: string[]): Promise<number> {
  const code = `${modules.map((m) => `await import(${JSON.stringify(m)});`).join("")} Bun.gc(true); await Bun.sleep(200); console.log(process.memoryUsage().rss);`;
  const p = Bun.spawn(["bun", "-e", code], { cwd: repoRoot, stdout: "pipe", stderr: "inherit" });
  const out = await new Response(p.stdout).text();
  await p.exited;
  return Math.round((Number(out.trim()) / 1024 / 1024) * 10) / 10;
}

const PARTS: [string, string[]][] = [
  ["bun alone", []],
  ["every generated service (src/server/services.ts)", ["./src/server/services.ts"]],
  ["@connectrpc/connect + connect-node", ["@connectrpc/connect", "@connectrpc/connect-node"]],
  ["prom-client, its index (what src/system/prom.ts avoids)", ["prom-client"]],
  ["prom-client metric classes (src/system/prom.ts)", ["./src/system/prom.ts"]],
  ["rate-limiter-flexible, its index", ["rate-limiter-flexible"]],
  ["rate-limiter-flexible memory limiter (src/core/rate-limiters.ts)", ["./src/core/rate-limiters.ts"]],
  ["drizzle-orm (sqlite)", ["drizzle-orm/bun-sqlite"]],
  ["@nats-io/transport-node + jetstream", ["@nats-io/transport-node", "@nats-io/jetstream"]],
  ["@qdrant/js-client-rest", ["@qdrant/js-client-rest"]],
  ["jose", ["jose"]],
  ["yaml, croner", ["yaml", "croner"]],
  ["the whole app (src/app.ts)", ["./src/app.ts"]],
];

/** Runs the whole benchmark; returns its report (markdown). */
export async function startupBench(): Promise<string> {
  const out: string[] = [];
  const loadBefore = loadavg().map((l) => l.toFixed(2)).join(" ");
  const build = Bun.spawnSync(["bun", "run", "build"], { cwd: repoRoot, stdout: "ignore", stderr: "inherit" });
  if (build.exitCode !== 0) throw new Error("bun run build failed");
  const ENTRIES: [string, string][] = [
    ["source (bun src/main.ts)", "src/main.ts"],
    ["bundle (bun dist/main.js)", "dist/main.js"],
  ];
  const runs = new Map<string, { readyMs: number; rssMb: number }[]>();
  for (let i = 0; i < ROUNDS; i++) {
    for (const [name, entry] of ENTRIES) {
      const dataDir = mkdtempSync(join(tmpdir(), "switchyard-bench-startup-"));
      try {
        for (const start of ["first start", "restart"]) {
          const key = `${name}, ${start}`;
          runs.set(key, [...(runs.get(key) ?? []), await startOnce(entry, dataDir)]);
        }
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  out.push(`${ROUNDS} interleaved rounds; each round starts source and bundle on a fresh data dir (first start: every migration, the checkpoint worker started by the first writes) and again on the same dir (restart). Timed from spawn to the first \`/readyz\` 200 (polled every 2 ms); RSS is VmRSS after ${IDLE_MS / 1000} s idle.\n`);
  out.push(`| start | spawn → /readyz 200 (ms), each round | median | RSS after ${IDLE_MS / 1000} s idle (MB), median |\n|---|---|---:|---:|`);
  for (const [key, rs] of runs) out.push(`| ${key} | ${rs.map((r) => r.readyMs).join(", ")} | ${median(rs.map((r) => r.readyMs))} | ${median(rs.map((r) => r.rssMb))} |`);
  const ms = (key: string) => median(runs.get(key)!.map((r) => r.readyMs));
  out.push(`\nBundle ÷ source, median start: first start ${(ms("bundle (bun dist/main.js), first start") / ms("source (bun src/main.ts), first start")).toFixed(2)}×, restart ${(ms("bundle (bun dist/main.js), restart") / ms("source (bun src/main.ts), restart")).toFixed(2)}×.`);
  out.push("\n| imported alone in a fresh Bun | RSS (MB) |\n|---|---:|");
  for (const [name, mods] of PARTS) {
    try {
      out.push(`| ${name} | ${await importRss(mods)} |`);
    } catch (e) {
      out.push(`| ${name} | (failed: ${String(e)}) |`);
    }
  }
  out.push(`\nLoad average before → after: ${loadBefore} → ${loadavg().map((l) => l.toFixed(2)).join(" ")}.`);
  return out.join("\n");
}

if (import.meta.main) console.log(await startupBench());
