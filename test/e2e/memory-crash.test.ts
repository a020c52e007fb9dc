// Crash-safety of compaction: the server runs as a child process; SIGKILL while a compaction
// task is merging thousands of duplicate groups; the file then holds every group either wholly
// merged or untouched (never a survivor claiming a merged memory that still exists, never a
// memory lost), the full-text index is intact, and after a restart the task is claimed again
// once its lease expires and finishes the work.
import { describe, expect, it } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, repoRoot, waitForHttp } from "../../src/testing/server.ts";

const GROUPS = 3000;

function spawnServer(port: number, dataDir: string) {
  return Bun.spawn(["bun", join(repoRoot, "src/main.ts")], {
    env: {
      ...process.env,
      SWITCHYARD_PORT: String(port),
      SWITCHYARD_HOST: "127.0.0.1",
      SWITCHYARD_DATA_DIR: dataDir,
      SWITCHYARD_SHUTDOWN_GRACE_MS: "1000",
      SWITCHYARD_MEMORY_WORKER_LEASE_MS: "5000",
    },
    stdout: "ignore",
    stderr: "pipe",
  });
}

async function post(url: string, body: unknown): Promise<any> {
  const r = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  if (!r.ok) throw new Error(`${url}: ${r.status} ${await r.text()}`);
  return r.json();
}

/** Groups of the file: content key → rows (id, merged ids). */
function groups(path: string): Map<string, { id: string; merged: string[] }[]> {
  const db = new Database(path, { readonly: true });
  try {
    const out = new Map<string, { id: string; merged: string[] }[]>();
    for (const r of db.query("SELECT id, content_key, merged_ids FROM memories WHERE type = 'crash'").all() as { id: string; content_key: string; merged_ids: string }[]) {
      let l = out.get(r.content_key);
      if (!l) out.set(r.content_key, (l = []));
      l.push({ id: r.id, merged: JSON.parse(r.merged_ids) });
    }
    const fts = db.query("SELECT count(*) AS n FROM memory_fts").get() as { n: number };
    const rows = db.query("SELECT count(*) AS n FROM memories").get() as { n: number };
    expect(fts.n).toBe(rows.n);
    return out;
  } finally {
    db.close();
  }
}

describe("a server killed mid-compaction", () => {
  it("leaves every duplicate group wholly merged or untouched, and finishes the task after a restart", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "switchyard-memcrash-"));
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    let proc = spawnServer(port, dataDir);
    try {
      await waitForHttp(`${url}/healthz`);
      for (let g = 0; g < GROUPS; g += 50) {
        const requests = [];
        for (let i = g; i < g + 50; i++) {
          requests.push({ memory: { type: "crash", content: `fact number ${i} about subsystem ${i % 97}`, importance: 0.9 } });
          requests.push({ memory: { type: "crash", content: `FACT number ${i} about subsystem ${i % 97}`, importance: 0.2 } });
        }
        await post(`${url}/v1/memories:batchCreate`, { requests });
      }
      const { task_id } = await post(`${url}/v1/memories:compact`, { merge: { similarity_threshold: 0.99 } });
      // Kill once some groups are merged and the task is still running.
      const deadline = Date.now() + 60_000;
      for (;;) {
        const t = (await (await fetch(`${url}/v1/tasks/${task_id}`)).json()).task;
        if (t.state === "TASK_STATE_RUNNING" && t.progress > 12) break;
        if (t.state === "TASK_STATE_SUCCEEDED") throw new Error("compaction finished before the kill; make it longer");
        if (Date.now() > deadline) throw new Error(`compaction did not progress: ${JSON.stringify(t)}`);
        await Bun.sleep(2);
      }
      proc.kill(9);
      await proc.exited;

      const db = join(dataDir, "switchyard.db");
      const after = groups(db);
      expect(after.size).toBe(GROUPS);
      let merged = 0;
      for (const rows of after.values()) {
        if (rows.length === 1) {
          merged++;
          expect(rows[0]!.merged).toHaveLength(1); // the survivor names the one it absorbed, which is gone
        } else {
          expect(rows).toHaveLength(2);
          expect(rows.every((r) => r.merged.length === 0)).toBe(true);
        }
      }
      expect(merged).toBeGreaterThan(0);
      expect(merged).toBeLessThan(GROUPS);

      // Restart: the task is claimed again once its 5 s lease expires and merges the rest.
      proc = spawnServer(port, dataDir);
      await waitForHttp(`${url}/healthz`);
      for (;;) {
        const t = (await (await fetch(`${url}/v1/tasks/${task_id}`)).json()).task;
        if (t.state === "TASK_STATE_SUCCEEDED") break;
        if (Date.now() > deadline + 60_000) throw new Error(`compaction was not resumed: ${JSON.stringify(t)}`);
        await Bun.sleep(100);
      }
      const final = groups(db);
      expect([...final.values()].every((rows) => rows.length === 1)).toBe(true);
    } finally {
      proc.kill(9);
      await proc.exited;
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 180_000);
});
