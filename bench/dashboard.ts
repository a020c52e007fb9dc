// Dashboard load time: a real server process holding 10,000 tasks, Debian's Chromium (headless,
// playwright-core), each page opened cold in a fresh browser context until its data is shown.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { TaskService } from "../gen/switchyard/tasks/v1/tasks_service_pb.js";
import { clientFor } from "../src/testing/clients.ts";
import { freePort, repoRoot, waitForHttp } from "../src/testing/server.ts";

export interface DashboardRow {
  page: string;
  samples: number;
  p50Ms: number;
  maxMs: number;
}

export async function dashboardBench(tasks = 10_000, rounds = 7): Promise<{ rows: DashboardRow[]; tasks: number; bundleKb: number }> {
  const build = Bun.spawnSync(["bash", join(repoRoot, "scripts/build-web.sh")], { stderr: "inherit" });
  if (build.exitCode !== 0) throw new Error("dashboard build failed");
  const dataDir = mkdtempSync(join(tmpdir(), "switchyard-bench-ui-"));
  const port = await freePort();
  const server = Bun.spawn(["bun", join(repoRoot, "src/main.ts")], {
    env: { ...process.env, SWITCHYARD_PORT: String(port), SWITCHYARD_HOST: "127.0.0.1", SWITCHYARD_DATA_DIR: dataDir, SWITCHYARD_LOG_LEVEL: "warn" },
    stdout: "ignore",
    stderr: "inherit",
  });
  const url = `http://127.0.0.1:${port}`;
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  try {
    await waitForHttp(`${url}/healthz`);
    const client = clientFor(TaskService, url, "grpc");
    for (let i = 0; i < tasks; i += 1000) {
      await client.batchCreateTasks({
        requests: Array.from({ length: Math.min(1000, tasks - i) }, (_, j) => ({ task: { queue: `q${(i + j) % 8}`, type: "bench", payload: { kind: { case: "numberValue", value: i + j } } } })),
      });
    }
    const html = await (await fetch(`${url}/ui/`)).text();
    const assets = [...html.matchAll(/(?:src|href)="(\/ui\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    let bytes = 0;
    for (const a of assets) bytes += (await (await fetch(`${url}${a}`)).arrayBuffer()).byteLength;
    const pages: [string, string, string][] = [
      ["overview", "/ui/#/", ".count dd"],
      ["tasks", "/ui/#/tasks", "table[aria-label=tasks] tbody tr"],
      ["queues", "/ui/#/queues", "table[aria-label=queues] tbody tr"],
    ];
    const rows: DashboardRow[] = [];
    for (const [name, path, ready] of pages) {
      const times: number[] = [];
      for (let r = 0; r < rounds; r++) {
        const context = await browser.newContext();
        const page = await context.newPage();
        const t0 = performance.now();
        await page.goto(`${url}${path}`);
        await page.locator(ready).first().waitFor({ timeout: 15_000 });
        times.push(performance.now() - t0);
        await context.close();
      }
      times.sort((a, b) => a - b);
      rows.push({ page: name, samples: times.length, p50Ms: times[Math.floor(times.length / 2)]!, maxMs: times[times.length - 1]! });
    }
    return { rows, tasks, bundleKb: Math.round(bytes / 1024) };
  } finally {
    await browser.close();
    server.kill();
    await server.exited;
    rmSync(dataDir, { recursive: true, force: true });
  }
}
