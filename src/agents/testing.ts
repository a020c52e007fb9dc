import { mkdtempSync, rmSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInProcessBus } from "../bus/in-process.ts";
import { createSqliteBusLog } from "../bus/sqlite-log.ts";
import { loadConfig } from "../config.ts";
import { createManualClock } from "../core/clock.ts";
import { createLogger } from "../core/logger.ts";
import { createSecretBox } from "../core/secret-box.ts";
import { openDatabase } from "../db/client.ts";
import type { ModuleContext } from "../server/module.ts";
import { createHealthMonitor } from "../system/health.ts";
import { createRequestMetrics } from "../system/metrics.ts";
import { createTaskEngine } from "../tasks/engine.ts";
import type { TasksModule } from "../tasks/module.ts";
import { createTaskEventHub } from "../tasks/watch.ts";
import { createAgentsModule } from "./module.ts";
import { createPrincipalResolver } from "../server/interceptors/auth.ts";

/** The agents domain over a real SQLite file and a real task engine, with a manual clock, for tests. */
export async function openAgentsFixture(env: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), "switchyard-agents-"));
  const config = loadConfig({ SWITCHYARD_DATA_DIR: dir, ...env });
  const database = openDatabase(config.databasePath);
  const clock = createManualClock(Date.UTC(2026, 3, 1, 10));
  const log = createLogger("error", () => {});
  const hub = createTaskEventHub();
  const engine = createTaskEngine({ database, clock, events: (e) => hub.publish(e) });
  const tasks = { engine, hub } as unknown as TasksModule;
  const ctx: ModuleContext = {
    config,
    database,
    clock,
    log,
    bus: createInProcessBus({ clock, log: createSqliteBusLog(database) }),
    health: createHealthMonitor({ clock, checks: [] }),
    metrics: createRequestMetrics({ clock, version: "test" }),
    secrets: await createSecretBox(Uint8Array.from(randomBytes(32))),
    auth: createPrincipalResolver({ apiToken: config.apiToken, auth: config.auth }),
  };
  const agents = createAgentsModule(ctx, { tasks });
  return {
    agents,
    ctx,
    tasks,
    hub,
    engine,
    clock,
    database,
    async close() {
      await agents.close?.();
      engine.stop();
      await database.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
