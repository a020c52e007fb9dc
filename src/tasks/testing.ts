import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createManualClock } from "../core/clock.ts";
import { openDatabase, type Database } from "../db/client.ts";
import type { Dialect, PgTx } from "../db/dialect.ts";
import { done, step } from "../db/op.ts";
import type { OpenFresh } from "../testing/dialects.ts";
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
    /** Resolves once every write queued before it (dispatch rounds included) has committed. */
    flush: () => database.write(() => done(undefined)),
    async close() {
      engine.stop();
      await database.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export type TestEngine = Awaited<ReturnType<typeof openDialectEngine>>;

const TABLES = "tasks, task_dependencies, task_queues, task_queue_configs";
const pgShared = new WeakMap<OpenFresh, Promise<Database>>();

/**
 * A task engine for the contract suite (`describeDialects`): on SQLite over a fresh file; on
 * PostgreSQL over one database per suite, emptied (identities restarted) before each engine,
 * which is much cheaper than a database per test. A manual clock, a temp dir for files.
 */
export async function openDialectEngine(open: OpenFresh, dialect: Dialect, config: Partial<TaskConfig> = {}) {
  let database: Database;
  let own = false;
  if (dialect === "postgres") {
    let shared = pgShared.get(open);
    if (!shared) pgShared.set(open, (shared = open()));
    database = await shared;
    await database.write(function* (tx) {
      yield* step((tx as PgTx).sql.unsafe(`TRUNCATE ${TABLES} RESTART IDENTITY`));
    });
  } else {
    database = await open();
    own = true;
  }
  const dir = mkdtempSync(join(tmpdir(), "switchyard-tasks-"));
  const clock = createManualClock();
  const events: TaskEvent[] = [];
  const engine = createTaskEngine({ database, clock, config, events: (e) => events.push(e), random: () => 0.5 });
  return {
    dialect,
    dir,
    database,
    clock,
    events,
    engine,
    /** Resolves once every write queued before it (dispatch rounds included) has committed. */
    flush: () => database.write(() => done(undefined)),
    async close() {
      engine.stop();
      // Let writes still queued (a last dispatch round) finish before the next test empties the tables.
      await database.write(() => done(undefined)).catch(() => {});
      if (own) await database.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
