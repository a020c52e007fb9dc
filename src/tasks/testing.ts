import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createManualClock } from "../core/clock.ts";
import { openDatabase } from "../db/client.ts";
import { createTaskEngine } from "./engine.ts";
import type { TaskConfig } from "./rules.ts";
import type { TaskEvent } from "./types.ts";

/** A task engine over a fresh SQLite file in a temp dir, with a manual clock, for tests. */
export function openTestEngine(config: Partial<TaskConfig> = {}) {
  const dir = mkdtempSync(join(tmpdir(), "switchyard-tasks-"));
  const path = join(dir, "switchyard.db");
  const database = openDatabase(path);
  const clock = createManualClock();
  const events: TaskEvent[] = [];
  const engine = createTaskEngine({ database, clock, config, events: (e) => events.push(e), random: () => 0.5 });
  return {
    dir,
    path,
    database,
    clock,
    events,
    engine,
    async close() {
      engine.stop();
      await database.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
