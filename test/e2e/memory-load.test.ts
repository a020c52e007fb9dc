import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { Agent, request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, repoRoot, waitForHttp } from "../../src/testing/server.ts";

// 2,000 concurrent REST reads of a page holding a 4 MB task, against a server process of its
// own, whose peak memory (VmHWM) must stay under a ceiling: answers are built a few at a time and
// bytes in flight are capped (back-pressure, then 429 resource_exhausted RESPONSES_IN_FLIGHT).

const CONCURRENT = 2000;
const CEILING_BYTES = 1024 * 1024 * 1024; // unbounded, this load took 2.8 GB

let proc: ReturnType<typeof Bun.spawn>;
let url: string;
let port: number;
let dataDir: string;
beforeAll(async () => {
  port = await freePort();
  dataDir = mkdtempSync(join(tmpdir(), "switchyard-load-"));
  proc = Bun.spawn(["bun", join(repoRoot, "src/main.ts")], {
    env: { ...process.env, SWITCHYARD_PORT: String(port), SWITCHYARD_HOST: "127.0.0.1", SWITCHYARD_DATA_DIR: dataDir, SWITCHYARD_LOG_LEVEL: "error", SWITCHYARD_SHUTDOWN_GRACE_MS: "500" },
    stdout: "ignore",
    stderr: "inherit",
  });
  url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/healthz`);
});
afterAll(async () => {
  proc.kill("SIGTERM");
  await proc.exited;
  rmSync(dataDir, { recursive: true, force: true });
});

function status(field: "VmHWM" | "VmRSS"): number {
  const text = readFileSync(`/proc/${proc.pid}/status`, "utf8");
  return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(text)![1]) * 1024;
}

/** One GET on its own connection; the body is read and thrown away (a real, slow-ish client). */
function get(agent: Agent, path: string): Promise<{ status: number; reason?: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, agent }, (res) => {
      if (res.statusCode === 200) {
        res.resume();
        res.on("end", () => resolve({ status: 200 }));
        return;
      }
      let body = "";
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode!, reason: JSON.parse(body).error?.reason }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("bounded response memory", () => {
  it(`serves ${CONCURRENT} concurrent reads of a page holding a 4 MB task under a ${CEILING_BYTES >> 20} MiB peak RSS`, async () => {
    const queue = `load-${Date.now()}`;
    const created = await fetch(`${url}/v1/tasks`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ task: { queue, title: "big", payload: { blob: "x".repeat(4_000_000) } } }),
    });
    expect(created.status).toBe(200);
    const path = `/v1/tasks?queues=${queue}&page_size=10`;
    const one = await fetch(`${url}${path}`);
    expect(one.status).toBe(200);
    expect((await one.arrayBuffer()).byteLength).toBeGreaterThan(4_000_000);

    const agent = new Agent({ keepAlive: false, maxSockets: Infinity });
    const answers = await Promise.all(Array.from({ length: CONCURRENT }, () => get(agent, path)));
    agent.destroy();
    const peak = status("VmHWM");
    const ok = answers.filter((a) => a.status === 200).length;
    const shed = answers.filter((a) => a.status === 429);
    console.error(`memory-load: ${ok} answered, ${shed.length} shed (429), server peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB`);
    expect(ok + shed.length).toBe(CONCURRENT);
    expect(ok).toBeGreaterThanOrEqual(16);
    for (const a of shed) expect(a.reason).toBe("RESPONSES_IN_FLIGHT");
    expect(peak).toBeLessThan(CEILING_BYTES);
    // Still serving afterwards.
    expect((await fetch(`${url}/v1/system/info`)).status).toBe(200);
  }, 120_000);
});
