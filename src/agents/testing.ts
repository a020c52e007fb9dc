import { mkdtempSync, rmSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInProcessBus } from "../bus/in-process.ts";
import { createSqliteBusLog } from "../bus/sqlite-log.ts";
import { loadConfig } from "../config.ts";
import { createManualClock } from "../core/clock.ts";

type ManualClock = ReturnType<typeof createManualClock>;
import { createLogger } from "../core/logger.ts";
import { createSecretBox } from "../core/secret-box.ts";
import { openDatabase, type Database } from "../db/client.ts";
import type { ModuleContext } from "../server/module.ts";
import { createHealthMonitor } from "../system/health.ts";
import { createRequestMetrics } from "../system/metrics.ts";
import { createTaskEngine } from "../tasks/engine.ts";
import type { TasksModule } from "../tasks/module.ts";
import { createTaskEventHub } from "../tasks/watch.ts";
import { createAgentsModule } from "./module.ts";
import { createPrincipalResolver } from "../server/interceptors/auth.ts";

/**
 * The agents domain over a real database and a real task engine, with a manual clock, for tests.
 * The engine runs on a SQLite file; the agents domain on the same file, or on `options.database`
 * (a PostgreSQL database: the agents' store on PostgreSQL while the task engine has none yet),
 * which the fixture does not close. `share`: a second instance of the agents domain over another
 * fixture's task engine, clock, secret key and bus (the fleet's one engine, one
 * SWITCHYARD_SECRET_KEY, one NATS); closing it leaves those to their owner.
 */
export async function openAgentsFixture(env: Record<string, string> = {}, options: { database?: Database; clock?: ManualClock; share?: AgentsFixture } = {}): Promise<AgentsFixture> {
  const dir = mkdtempSync(join(tmpdir(), "switchyard-agents-"));
  const config = loadConfig({ SWITCHYARD_DATA_DIR: dir, ...env });
  const shared = options.share;
  const engineDatabase = shared?.engineDatabase ?? openDatabase(config.databasePath);
  const database = options.database ?? engineDatabase;
  const clock = shared?.clock ?? options.clock ?? createManualClock(Date.UTC(2026, 3, 1, 10));
  const log = createLogger("error", () => {});
  const hub = shared?.hub ?? createTaskEventHub();
  const engine = shared?.engine ?? createTaskEngine({ database: engineDatabase, clock, events: (e) => hub.publish(e) });
  const tasks = shared?.tasks ?? ({ engine, hub } as unknown as TasksModule);
  const ctx: ModuleContext = {
    config,
    database,
    clock,
    log,
    bus: shared?.ctx.bus ?? createInProcessBus({ clock, log: createSqliteBusLog(engineDatabase) }),
    health: createHealthMonitor({ clock, checks: [] }),
    metrics: createRequestMetrics({ clock, version: "test" }),
    secrets: shared?.ctx.secrets ?? (await createSecretBox(Uint8Array.from(randomBytes(32)))),
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
    engineDatabase,
    async close() {
      await agents.close?.();
      if (!shared) {
        engine.stop();
        await engineDatabase.close();
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface AgentsFixture {
  agents: ReturnType<typeof createAgentsModule>;
  ctx: ModuleContext;
  tasks: TasksModule;
  hub: ReturnType<typeof createTaskEventHub>;
  engine: ReturnType<typeof createTaskEngine>;
  clock: ManualClock;
  database: Database;
  engineDatabase: Database;
  close(): Promise<void>;
}
