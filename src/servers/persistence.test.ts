import { describe, expect, it } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createManualClock } from "../core/clock.ts";
import { createLogger } from "../core/logger.ts";
import { createSecretBox } from "../core/secret-box.ts";
import { openDatabase } from "../db/client.ts";
import { createTaskEngine } from "../tasks/engine.ts";
import { taskPortOf } from "./module.ts";
import { createServersDomain } from "./servers.ts";

describe("the registry across a restart", () => {
  it("keeps servers, their sealed API key, maintenance, last heartbeat and the algorithm", async () => {
    const dir = mkdtempSync(join(tmpdir(), "switchyard-servers-"));
    const key = crypto.getRandomValues(new Uint8Array(32));
    const clock = createManualClock(Date.UTC(2026, 11, 2, 8, 0, 0));
    const open = async () => {
      const database = openDatabase(join(dir, "s.db"));
      const engine = createTaskEngine({ database, clock, events: () => {} });
      const domain = createServersDomain({
        database,
        clock,
        log: createLogger("error", () => {}),
        secrets: await createSecretBox(key),
        tasks: taskPortOf(engine),
        backendAllow: ["127.0.0.1"],
        heartbeatTimeoutMs: 30_000,
        healthCheckIntervalMs: 60_000,
        dispatchTimeoutMs: 1000,
        pushQueues: [],
        callbackBase: () => "http://127.0.0.1:1",
      });
      return { database, engine, domain };
    };
    try {
      const a = await open();
      const v = await a.domain.register("t1", { name: "keep-me", kind: "backend", endpoints: { predict: "http://127.0.0.1:9/predict" }, apiKey: "the-key", weight: 4, labels: { region: "eu" } });
      await a.domain.registry.heartbeat("t1", v.id, "degraded", { activeTasks: 2, cpuPercent: 10, custom: { q: 3 } });
      await a.domain.registry.setMaintenance("t1", v.id, true, "disk swap", "ops");
      await a.domain.balancer.setAlgorithm("t1", "power-of-two-choices");
      await a.engine.scoped("t1").createQueueConfig({ name: "q-keep", priority: 1 });
      const w = await a.domain.registerWorker("t1", { workerId: "resting-worker", queue: "q-keep" });
      await a.domain.registry.setMaintenance("t1", w.server.id, true, "resting", "");
      await a.engine.scoped("t1").createTask({ queue: "q-keep", type: "t" });
      await a.domain.stop();
      await a.database.close();

      const b = await open();
      await b.domain.ready;
      const again = await b.domain.registry.get("t1", v.id);
      expect(again).toMatchObject({ name: "keep-me", weight: 4, labels: { region: "eu" }, reportedHealth: "degraded", status: "maintenance" });
      expect(again.maintenance).toMatchObject({ reason: "disk swap", setBy: "ops" });
      expect(again.lastHeartbeatTime).toBe(clock.now());
      expect(again.lastLoad).toMatchObject({ activeTasks: 2, cpuPercent: 10, custom: { q: 3 } });
      expect(await b.domain.registry.apiKey(b.domain.registry.entry("t1", v.id))).toBe("the-key");
      expect(b.domain.balancer.algorithmOf("t1")).toBe("power-of-two-choices");
      expect(b.domain.balancer.algorithmOf("t2")).toBe("weighted-round-robin");
      // The worker in maintenance is still drained: its claims get nothing; another worker's do.
      expect(await b.engine.scoped("t1").claimTasks({ workerId: "resting-worker", queues: ["q-keep"] })).toHaveLength(0);
      expect(await b.engine.scoped("t1").claimTasks({ workerId: "other-worker", queues: ["q-keep"] })).toHaveLength(1);
      await expect(b.domain.registry.get("t2", v.id)).rejects.toThrow("server not found");
      await b.domain.stop();
      await b.database.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
